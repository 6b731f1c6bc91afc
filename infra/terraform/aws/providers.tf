# This folder is a root module: `terraform apply` runs here. Credentials come from the usual
# AWS chain (AWS_PROFILE, SSO, environment); nothing here holds a key.
provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ service = var.name, managed-by = "terraform" }, var.tags)
  }
}

# This folder is a root module: `terraform apply` runs here. Every resource still names its
# project and location explicitly, so nothing depends on the caller's gcloud defaults.
provider "google" {
  project = var.project_id
  region  = var.region
}

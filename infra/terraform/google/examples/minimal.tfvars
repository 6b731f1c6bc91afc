# The least a deployment needs. Copy to terraform.tfvars (git-ignored) and fill in:
#   terraform plan -var-file=examples/minimal.tfvars
# Everything else has a default: a private HTTP service (IAM-authenticated), an events service
# for Pub/Sub (invoked by the push identity only), an API key secret to fill out of band, a VPC
# connector on the default network, Pub/Sub topics and alerts.

project_id = "my-clinical-nlp-project"

# Push the image first (README: "First deployment"); Terraform only sets it at creation.
image = "europe-west1-docker.pkg.dev/my-clinical-nlp-project/clinical-assertion/function:1.0.0"

notification_emails = ["oncall@example.org"]

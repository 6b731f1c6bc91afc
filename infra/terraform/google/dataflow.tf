# Bulk on Dataflow (enable_dataflow): the bulk pipeline's workers run as their own account
# with only what a job needs: run as a Dataflow worker, use the staging bucket, read the
# input buckets, write the output buckets, pull the custom container from this repository.
# Corpora hold patient text: nothing here makes a bucket public, and the staging bucket
# deletes what it holds after dataflow_staging_days.

locals {
  dataflow_worker_member = var.enable_dataflow ? "serviceAccount:${google_service_account.dataflow_worker[0].email}" : null
}

resource "google_service_account" "dataflow_worker" {
  count = var.enable_dataflow ? 1 : 0

  project      = var.project_id
  account_id   = "${local.short_name}-dataflow"
  display_name = "${var.service_name} bulk pipeline workers (Dataflow)"

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "dataflow_worker" {
  count = var.enable_dataflow ? 1 : 0

  project = var.project_id
  role    = "roles/dataflow.worker"
  member  = local.dataflow_worker_member
}

resource "google_storage_bucket" "dataflow_staging" {
  #checkov:skip=CKV_GCP_62:Access logs of a staging bucket would record only Dataflow's own reads and writes of staged packages and temporary files; the job's audit trail is in Cloud Audit Logs.
  #checkov:skip=CKV_GCP_78:Versioning would keep deleted temporary files (possibly holding patient text) beyond the lifecycle rule that is there to remove them.
  count = var.enable_dataflow ? 1 : 0

  project                     = var.project_id
  name                        = "${var.project_id}-${var.service_name}-dataflow"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true
  labels                      = local.labels

  lifecycle_rule {
    condition {
      age = var.dataflow_staging_days
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_iam_member" "dataflow_staging" {
  count = var.enable_dataflow ? 1 : 0

  bucket = google_storage_bucket.dataflow_staging[0].name
  role   = "roles/storage.objectUser"
  member = local.dataflow_worker_member
}

resource "google_storage_bucket_iam_member" "dataflow_reads_inputs" {
  for_each = var.enable_dataflow ? toset(var.dataflow_input_buckets) : toset([])

  bucket = each.value
  role   = "roles/storage.objectViewer"
  member = local.dataflow_worker_member
}

resource "google_storage_bucket_iam_member" "dataflow_writes_outputs" {
  for_each = var.enable_dataflow ? toset(var.dataflow_output_buckets) : toset([])

  bucket = each.value
  role   = "roles/storage.objectUser"
  member = local.dataflow_worker_member
}

resource "google_artifact_registry_repository_iam_member" "dataflow_pulls_container" {
  count = var.enable_dataflow ? 1 : 0

  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = local.dataflow_worker_member
}

resource "google_project_iam_member" "dataflow_launchers" {
  #checkov:skip=CKV_GCP_49:roles/dataflow.developer is the least role that creates Dataflow jobs (jobs have no resource-level IAM) and impersonates no account: acting as an account is granted on the worker account alone (dataflow_launchers_act_as_worker).
  for_each = var.enable_dataflow ? toset(var.dataflow_launchers) : toset([])

  project = var.project_id
  role    = "roles/dataflow.developer"
  member  = each.value
}

resource "google_service_account_iam_member" "dataflow_launchers_act_as_worker" {
  for_each = var.enable_dataflow ? toset(var.dataflow_launchers) : toset([])

  service_account_id = google_service_account.dataflow_worker[0].name
  role               = "roles/iam.serviceAccountUser"
  member             = each.value
}

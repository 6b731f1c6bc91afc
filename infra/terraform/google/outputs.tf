output "service_url" {
  description = "HTTPS URL of the HTTP service (the API)."
  value       = google_cloud_run_v2_service.function["http"].uri
}

output "service_name" {
  description = "Name of the HTTP service (for gcloud run deploy)."
  value       = google_cloud_run_v2_service.function["http"].name
}

output "service_account_email" {
  description = "E-mail of the service account the HTTP service runs as."
  value       = google_service_account.runtime["http"].email
}

output "events_service_url" {
  description = "HTTPS URL of the events service, where the push subscription delivers (an Eventarc trigger would target it too)."
  value       = google_cloud_run_v2_service.function["events"].uri
}

output "events_service_name" {
  description = "Name of the events service (for gcloud run deploy: deploy the same image to both services)."
  value       = google_cloud_run_v2_service.function["events"].name
}

output "events_service_account_email" {
  description = "E-mail of the service account the events service runs as (publisher on the results and errors topics)."
  value       = google_service_account.runtime["events"].email
}

output "push_service_account_email" {
  description = "E-mail of the identity Pub/Sub uses to call the events service."
  value       = google_service_account.push.email
}

output "topics" {
  description = "Pub/Sub topic names by role: requests (input), results, errors, dead_letter."
  value       = { for role, t in google_pubsub_topic.topic : role => t.name }
}

output "push_subscription" {
  description = "Name of the push subscription that delivers requests to the events service."
  value       = google_pubsub_subscription.push.name
}

output "dead_letter_subscription" {
  description = "Name of the pull subscription holding dead-lettered messages."
  value       = google_pubsub_subscription.dead_letter.name
}

output "api_key_secret" {
  description = "Secret Manager secret ID of the API key (add versions out of band), or null when the service runs without one."
  value       = local.has_api_key ? google_secret_manager_secret.api_key[0].secret_id : null
}

output "artifact_registry_repository" {
  description = "Docker repository for the images, as the host/path prefix to tag images with."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "vpc_connector" {
  description = "ID of the Serverless VPC Access connector, or null when disabled."
  value       = var.enable_vpc_connector ? google_vpc_access_connector.egress[0].id : null
}

output "alert_policies" {
  description = "Alert policy resource names by signal."
  value       = { for k, p in google_monitoring_alert_policy.signal : k => p.name }
}

output "build_service_account_email" {
  description = "Service account the Cloud Build pipelines run as (their _BUILD_SERVICE_ACCOUNT); empty when create_build_service_account = false."
  value       = var.create_build_service_account ? google_service_account.build[0].email : ""
}

output "dataflow_worker_service_account" {
  description = "Service account the bulk pipeline's Dataflow workers run as (--service_account_email); empty without enable_dataflow."
  value       = var.enable_dataflow ? google_service_account.dataflow_worker[0].email : ""
}

output "dataflow_staging_bucket" {
  description = "Bucket for --temp_location and --staging_location (gs://NAME/tmp, gs://NAME/staging); empty without enable_dataflow."
  value       = var.enable_dataflow ? google_storage_bucket.dataflow_staging[0].name : ""
}

output "dashboard_metric_types" {
  description = "The metric types the on-call dashboard charts (for checks; see dashboard.tf)."
  value       = local.dashboard_metric_types
}

output "dashboard_id" {
  description = "The on-call dashboard's resource id (open it in Cloud Monitoring > Dashboards)."
  value       = google_monitoring_dashboard.on_call.id
}

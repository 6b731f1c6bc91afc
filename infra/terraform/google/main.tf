# Names, shared values and the project-level pieces the other files build on.
# cloud_run.tf: the two services (HTTP API, Pub/Sub events); iam.tf: identities and who may
# do what; secrets.tf, network.tf, pubsub.tf, artifact_registry.tf: what the services use;
# monitoring.tf, log_metrics.tf: what on-call sees.

locals {
  # Service account IDs are limited to 30 characters and connector names to 25: derive them
  # from a shortened stem that never ends with a hyphen.
  short_name = replace(substr(var.service_name, 0, 20), "/-+$/", "")

  names = {
    # Cloud Run service names are limited to 49 characters: service_name to 42 (variables.tf).
    events_service = "${var.service_name}-events"
    # One runtime identity per service (keys of local.services), each with only its grants.
    runtime_sa = {
      http   = "${local.short_name}-run"
      events = "${local.short_name}-events"
    }
    push_sa           = "${local.short_name}-push"
    vpc_connector     = coalesce(var.vpc_connector_name, "${local.short_name}-vpc")
    repository        = coalesce(var.artifact_registry_repository_id, var.service_name)
    push_subscription = "${var.service_name}-push"
    dead_letter_sub   = "${var.service_name}-dead-letter"
    # Log-based metric names become part of PromQL metric names; underscores keep them intact.
    metric_prefix = replace(var.service_name, "-", "_")
  }

  # Topics by role. The events service reads RESULTS_TOPIC and ERRORS_TOPIC; requests feed the
  # push subscription; dead_letter receives what it failed max_delivery_attempts times.
  topic_names = {
    requests    = "${var.service_name}-requests"
    results     = "${var.service_name}-results"
    errors      = "${var.service_name}-errors"
    dead_letter = "${var.service_name}-dead-letter"
  }
  topic_ids = { for role, name in local.topic_names : role => "projects/${var.project_id}/topics/${name}" }

  api_key_secret_id = var.api_key_secret_id == null ? "${var.service_name}-api-key" : var.api_key_secret_id
  has_api_key       = local.api_key_secret_id != ""

  labels = merge(var.labels, {
    service    = var.service_name
    managed-by = "terraform"
  })

  runtime_members = { for k, sa in google_service_account.runtime : k => "serviceAccount:${sa.email}" }
  push_member     = "serviceAccount:${google_service_account.push.email}"

  # Google-managed service agents, named after the project number.
  pubsub_agent_member     = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  monitoring_agent_member = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-monitoring-notification.iam.gserviceaccount.com"

  apis = concat(
    [
      "run.googleapis.com",
      "iam.googleapis.com",
      "secretmanager.googleapis.com",
      "pubsub.googleapis.com",
      "artifactregistry.googleapis.com",
      "logging.googleapis.com",
      "monitoring.googleapis.com",
      "cloudtrace.googleapis.com",
    ],
    var.enable_vpc_connector ? ["vpcaccess.googleapis.com", "compute.googleapis.com"] : [],
    var.enable_dataflow ? ["dataflow.googleapis.com", "storage.googleapis.com", "compute.googleapis.com"] : [],
  )
}

data "google_project" "this" {
  project_id = var.project_id
}

resource "google_project_service" "apis" {
  for_each = var.enable_apis ? toset(local.apis) : toset([])

  project = var.project_id
  service = each.value

  # Other workloads in the project may use the same APIs: destroying this deployment must
  # never switch them off.
  disable_on_destroy         = false
  disable_dependent_services = false
}

check "alerts_reach_someone" {
  assert {
    condition     = length(var.notification_emails) + length(var.notification_channel_ids) > 0
    error_message = "No notification_emails or notification_channel_ids: alert policies will open incidents in Cloud Monitoring but notify nobody."
  }
}

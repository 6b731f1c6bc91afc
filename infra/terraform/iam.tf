# Identities and grants. Least privilege: each identity gets only the roles it uses, on the
# narrowest resource that carries them. No primitive roles (owner/editor/viewer) anywhere.

resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = local.names.runtime_sa
  display_name = "${var.service_name} runtime"
  description  = "Identity the ${var.service_name} Cloud Run service runs as."

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "push" {
  project      = var.project_id
  account_id   = local.names.push_sa
  display_name = "${var.service_name} Pub/Sub push"
  description  = "Identity in the OIDC token Pub/Sub attaches to push deliveries to ${var.service_name}."

  depends_on = [google_project_service.apis]
}

# --- The runtime service account -------------------------------------------------------

# Writing logs, metrics and traces has no narrower resource than the project.
resource "google_project_iam_member" "runtime_telemetry" {
  for_each = toset([
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/cloudtrace.agent",
  ])

  project = var.project_id
  role    = each.value
  member  = local.runtime_member
}

resource "google_secret_manager_secret_iam_member" "runtime_reads_api_key" {
  count = local.has_api_key ? 1 : 0

  project   = var.project_id
  secret_id = google_secret_manager_secret.api_key[0].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.runtime_member
}

resource "google_pubsub_topic_iam_member" "runtime_publishes" {
  for_each = toset(["results", "errors"])

  project = var.project_id
  topic   = google_pubsub_topic.topic[each.key].name
  role    = "roles/pubsub.publisher"
  member  = local.runtime_member
}

# --- Who may call the service -----------------------------------------------------------

locals {
  # roles/run.invoker by reason. The uptime check calls /health with an OIDC token of the
  # Monitoring service agent; Pub/Sub pushes with the push identity's token.
  invokers = merge(
    { for m in var.invoker_members : m => m },
    { pubsub-push = local.push_member },
    var.enable_uptime_check ? { uptime-check = local.monitoring_agent_member } : {},
  )
}

resource "google_cloud_run_v2_service_iam_member" "invokers" {
  for_each = local.invokers

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.function.name
  role     = "roles/run.invoker"
  member   = each.value

  # The Monitoring service agent exists once the first uptime check does.
  depends_on = [google_monitoring_uptime_check_config.health]
}

# Kept apart from the invokers above so that making the service public stays a visible,
# separate decision.
resource "google_cloud_run_v2_service_iam_member" "public" {
  count = var.allow_unauthenticated ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.function.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# --- Pub/Sub service agent: what the dead-letter policy needs ----------------------------

resource "google_pubsub_topic_iam_member" "pubsub_agent_dead_letters" {
  project = var.project_id
  topic   = google_pubsub_topic.topic["dead_letter"].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent_member
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_acks_dead_lettered" {
  project      = var.project_id
  subscription = google_pubsub_subscription.push.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent_member
}

resource "google_kms_crypto_key_iam_member" "pubsub_agent_encrypts" {
  count = var.pubsub_kms_key_name == null ? 0 : 1

  crypto_key_id = var.pubsub_kms_key_name
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = local.pubsub_agent_member
}

# --- Deployers (e.g. Cloud Build): roll out new images, nothing else ---------------------

resource "google_cloud_run_v2_service_iam_member" "deployers" {
  for_each = toset(var.deployer_members)

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.function.name
  role     = "roles/run.developer"
  member   = each.value
}

resource "google_service_account_iam_member" "deployers_act_as_runtime" {
  for_each = toset(var.deployer_members)

  service_account_id = google_service_account.runtime.name
  role               = "roles/iam.serviceAccountUser"
  member             = each.value
}

resource "google_artifact_registry_repository_iam_member" "deployers_push_images" {
  for_each = toset(var.deployer_members)

  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.writer"
  member     = each.value
}

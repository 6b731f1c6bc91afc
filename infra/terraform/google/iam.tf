# Identities and grants. Least privilege: each identity gets only the roles it uses, on the
# narrowest resource that carries them. No primitive roles (owner/editor/viewer) anywhere.
# Each service runs as its own account: the HTTP service reads the API key secret, the events
# service publishes to the results and errors topics, and neither can do what the other does.

resource "google_service_account" "runtime" {
  for_each = local.services

  project      = var.project_id
  account_id   = local.names.runtime_sa[each.key]
  display_name = "${each.value.name} runtime"
  description  = "Identity the ${each.value.name} Cloud Run service runs as."

  depends_on = [google_project_service.apis]
}

moved {
  from = google_service_account.runtime
  to   = google_service_account.runtime["http"]
}

resource "google_service_account" "push" {
  project      = var.project_id
  account_id   = local.names.push_sa
  display_name = "${var.service_name} Pub/Sub push"
  description  = "Identity in the OIDC token Pub/Sub attaches to push deliveries to ${local.names.events_service}."

  depends_on = [google_project_service.apis]
}

# --- The runtime service accounts ------------------------------------------------------

locals {
  # Both accounts write logs, metrics and traces, which have no narrower resource than the
  # project. One resource per account, each over a plain toset(): checkov reads the roles
  # of project-level grants only through that (it sees nothing behind setproduct or for).
  telemetry_roles = ["roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/cloudtrace.agent"]
}

resource "google_project_iam_member" "runtime_telemetry" {
  for_each = toset(local.telemetry_roles)

  project = var.project_id
  role    = each.value
  member  = local.runtime_members.http
}

resource "google_project_iam_member" "events_telemetry" {
  for_each = toset(local.telemetry_roles)

  project = var.project_id
  role    = each.value
  member  = local.runtime_members.events
}

# The HTTP service checks callers' API keys; the events service has none (IAM is its gate).
resource "google_secret_manager_secret_iam_member" "runtime_reads_api_key" {
  count = local.has_api_key ? 1 : 0

  project   = var.project_id
  secret_id = google_secret_manager_secret.api_key[0].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.runtime_members.http
}

# Only the events service publishes: results, and rejected messages whole to errors.
resource "google_pubsub_topic_iam_member" "events_publishes" {
  for_each = toset(["results", "errors"])

  project = var.project_id
  topic   = google_pubsub_topic.topic[each.key].name
  role    = "roles/pubsub.publisher"
  member  = local.runtime_members.events
}

# --- Who may call the services ----------------------------------------------------------

locals {
  # roles/run.invoker by reason, with the service it is granted on. HTTP: the listed callers,
  # and the uptime check calling /health with an OIDC token of the Monitoring service agent.
  # Events: only Pub/Sub, pushing with the push identity's token.
  invokers = merge(
    { for m in var.invoker_members : m => { service = "http", member = m } },
    var.enable_uptime_check ? { uptime-check = { service = "http", member = local.monitoring_agent_member } } : {},
    { "events pubsub-push" = { service = "events", member = local.push_member } },
  )
}

resource "google_cloud_run_v2_service_iam_member" "invokers" {
  for_each = local.invokers

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.function[each.value.service].name
  role     = "roles/run.invoker"
  member   = each.value.member

  # The Monitoring service agent exists once the first uptime check does.
  depends_on = [google_monitoring_uptime_check_config.health]
}

# Kept apart from the invokers above so that making the HTTP service public stays a visible,
# separate decision. Never the events service, whatever allow_unauthenticated says: anyone
# could then make it classify and publish to the results topic.
resource "google_cloud_run_v2_service_iam_member" "public" {
  count = var.allow_unauthenticated ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.function["http"].name
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

locals {
  # Both services run the same image, so a deploy rolls out both: each deployer may update
  # each service and act as that service's runtime account. Keys: the member for the HTTP
  # service, as before the events service existed, "events <member>" for the events service.
  # (A changed key destroys and re-creates the same binding in one apply, in either order:
  # the grant could be gone afterwards.)
  deployers = concat(var.deployer_members, var.create_build_service_account ? [local.build_member] : [])
  deployer_grants = merge(
    { for m in local.deployers : m => { service = "http", member = m } },
    { for m in local.deployers : "events ${m}" => { service = "events", member = m } },
  )
}

resource "google_cloud_run_v2_service_iam_member" "deployers" {
  for_each = local.deployer_grants

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.function[each.value.service].name
  role     = "roles/run.developer"
  member   = each.value.member
}

resource "google_service_account_iam_member" "deployers_act_as_runtime" {
  for_each = local.deployer_grants

  service_account_id = google_service_account.runtime[each.value.service].name
  role               = "roles/iam.serviceAccountUser"
  member             = each.value.member
}

resource "google_artifact_registry_repository_iam_member" "deployers_push_images" {
  for_each = toset(local.deployers)

  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.writer"
  member     = each.value
}

# --- The build pipelines' own account -------------------------------------------------------
# cloudbuild.yaml and cloudbuild-lambda.yaml run as this account (never the default Cloud
# Build or Compute account). It is one of the deployers above (run.developer on both
# services, actAs on their runtime accounts, artifactregistry.writer), plus what the smoke
# and canary checks and the build logs need. Each role names the steps that use it;
# tests/test_cloudbuild.py holds this map and the pipelines' steps in step.

locals {
  build_member = "serviceAccount:${var.build_service_account_id}@${var.project_id}.iam.gserviceaccount.com"
  build_roles = {
    "roles/artifactregistry.writer"      = "pull-cache push: pull the cache image and push the built one (both pipelines)"
    "roles/run.developer"                = "record-traffic deploy-candidate smoke-candidate canary canary-check promote deploy-events: describe the services, deploy revisions, move traffic"
    "roles/iam.serviceAccountUser"       = "deploy-candidate deploy-events: deploy revisions that run as the runtime accounts"
    "roles/run.invoker"                  = "smoke-candidate canary-check: call the HTTP service with the build's identity token"
    "roles/secretmanager.secretAccessor" = "smoke-candidate canary-check: the API key the smoke and canary checks send (availableSecrets)"
    "roles/logging.logWriter"            = "every step: the build's logs (options.logging CLOUD_LOGGING_ONLY)"
  }
}

resource "google_service_account" "build" {
  count = var.create_build_service_account ? 1 : 0

  project      = var.project_id
  account_id   = var.build_service_account_id
  display_name = "${var.service_name} build and release (Cloud Build)"
  description  = "Runs cloudbuild.yaml and cloudbuild-lambda.yaml: ${join("; ", [for role, use in local.build_roles : "${role} for ${use}"])}"
}

resource "google_cloud_run_v2_service_iam_member" "build_invokes_http" {
  count = var.create_build_service_account ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.function["http"].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.build[0].email}"
}

resource "google_secret_manager_secret_iam_member" "build_reads_api_key" {
  count = var.create_build_service_account && local.has_api_key ? 1 : 0

  project   = var.project_id
  secret_id = google_secret_manager_secret.api_key[0].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.build[0].email}"
}

resource "google_project_iam_member" "build_writes_logs" {
  count = var.create_build_service_account ? 1 : 0

  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.build[0].email}"
}

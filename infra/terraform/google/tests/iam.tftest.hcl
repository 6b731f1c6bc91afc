# Least privilege: every grant the module can make, with every optional feature turned on,
# and none of them primitive; each identity holds only the roles it uses.

mock_provider "google" {
  source = "./tests/mocks"
}

variables {
  allow_unauthenticated = true
  invoker_members       = ["group:clinical-nlp@example.org"]
  deployer_members      = ["serviceAccount:123456789012@cloudbuild.gserviceaccount.com"]
  pubsub_kms_key_name   = "projects/acme-kms/locations/europe-west1/keyRings/pubsub/cryptoKeys/messages"
}

run "no_primitive_roles_anywhere" {
  command = apply

  assert {
    condition = length(setintersection(toset(concat(
      [for g in google_project_iam_member.runtime_telemetry : g.role],
      [for g in google_project_iam_member.events_telemetry : g.role],
      [for g in google_secret_manager_secret_iam_member.runtime_reads_api_key : g.role],
      [for g in google_pubsub_topic_iam_member.events_publishes : g.role],
      [for g in google_cloud_run_v2_service_iam_member.invokers : g.role],
      [for g in google_cloud_run_v2_service_iam_member.public : g.role],
      [google_pubsub_topic_iam_member.pubsub_agent_dead_letters.role],
      [google_pubsub_subscription_iam_member.pubsub_agent_acks_dead_lettered.role],
      [for g in google_kms_crypto_key_iam_member.pubsub_agent_encrypts : g.role],
      [for g in google_cloud_run_v2_service_iam_member.deployers : g.role],
      [for g in google_service_account_iam_member.deployers_act_as_runtime : g.role],
      [for g in google_artifact_registry_repository_iam_member.deployers_push_images : g.role],
    )), toset(["roles/owner", "roles/editor", "roles/viewer"]))) == 0
    error_message = "No grant may use a primitive role (owner, editor, viewer)."
  }
}

run "runtime_gets_only_what_it_uses" {
  command = apply

  assert {
    condition     = toset([for g in google_project_iam_member.runtime_telemetry : g.role]) == toset(["roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/cloudtrace.agent"]) && toset([for g in google_project_iam_member.events_telemetry : g.role]) == toset(["roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/cloudtrace.agent"])
    error_message = "At project level the runtime accounts only write logs, metrics and traces."
  }
  assert {
    condition     = alltrue([for g in google_project_iam_member.runtime_telemetry : g.member == "serviceAccount:${google_service_account.runtime["http"].email}"]) && alltrue([for g in google_project_iam_member.events_telemetry : g.member == "serviceAccount:${google_service_account.runtime["events"].email}"])
    error_message = "Project-level grants go to the runtime accounts, each its own."
  }
  assert {
    condition     = google_secret_manager_secret_iam_member.runtime_reads_api_key[0].role == "roles/secretmanager.secretAccessor" && google_secret_manager_secret_iam_member.runtime_reads_api_key[0].secret_id == google_secret_manager_secret.api_key[0].secret_id && google_secret_manager_secret_iam_member.runtime_reads_api_key[0].member == "serviceAccount:${google_service_account.runtime["http"].email}"
    error_message = "The HTTP service's account may read its own secret, and only through a grant on that secret."
  }
  assert {
    condition     = toset([for g in google_pubsub_topic_iam_member.events_publishes : g.topic]) == toset(["clinical-assertion-results", "clinical-assertion-errors"]) && alltrue([for g in google_pubsub_topic_iam_member.events_publishes : g.role == "roles/pubsub.publisher" && g.member == "serviceAccount:${google_service_account.runtime["events"].email}"])
    error_message = "The events service's account publishes to the results and errors topics only."
  }
}

run "each_runtime_account_holds_only_its_roles" {
  command = apply

  # Every grant any resource here makes to each runtime account, as "role on what".
  assert {
    condition = {
      for k, sa in google_service_account.runtime : k => sort(concat(
        [for g in google_project_iam_member.runtime_telemetry : "${g.role} on project" if g.member == "serviceAccount:${sa.email}"],
        [for g in google_project_iam_member.events_telemetry : "${g.role} on project" if g.member == "serviceAccount:${sa.email}"],
        [for g in google_secret_manager_secret_iam_member.runtime_reads_api_key : "${g.role} on ${g.secret_id}" if g.member == "serviceAccount:${sa.email}"],
        [for g in google_pubsub_topic_iam_member.events_publishes : "${g.role} on ${g.topic}" if g.member == "serviceAccount:${sa.email}"],
        [for g in google_pubsub_topic_iam_member.pubsub_agent_dead_letters[*] : "${g.role} on ${g.topic}" if g.member == "serviceAccount:${sa.email}"],
        [for g in google_cloud_run_v2_service_iam_member.invokers : "${g.role} on ${g.name}" if g.member == "serviceAccount:${sa.email}"],
      ))
      } == {
      http = sort([
        "roles/cloudtrace.agent on project",
        "roles/logging.logWriter on project",
        "roles/monitoring.metricWriter on project",
        "roles/secretmanager.secretAccessor on clinical-assertion-api-key",
      ])
      events = sort([
        "roles/cloudtrace.agent on project",
        "roles/logging.logWriter on project",
        "roles/monitoring.metricWriter on project",
        "roles/pubsub.publisher on clinical-assertion-errors",
        "roles/pubsub.publisher on clinical-assertion-results",
      ])
    }
    error_message = "The HTTP service's account writes telemetry and reads the API key secret (no publisher role); the events service's writes telemetry and publishes to the results and errors topics (no secret access). Nothing else."
  }
}

run "push_identity_and_service_agents" {
  command = apply

  assert {
    condition     = google_cloud_run_v2_service_iam_member.invokers["events pubsub-push"].member == "serviceAccount:${google_service_account.push.email}" && google_cloud_run_v2_service_iam_member.invokers["events pubsub-push"].name == google_cloud_run_v2_service.function["events"].name && google_cloud_run_v2_service_iam_member.invokers["events pubsub-push"].role == "roles/run.invoker"
    error_message = "The push subscription's identity may invoke the events service."
  }
  assert {
    condition     = [for g in google_cloud_run_v2_service_iam_member.invokers : g.name if g.member == "serviceAccount:${google_service_account.push.email}"] == ["clinical-assertion-events"]
    error_message = "The push identity may invoke the events service only, not the HTTP service."
  }
  assert {
    condition     = google_pubsub_subscription.push.push_config[0].oidc_token[0].service_account_email == google_service_account.push.email
    error_message = "The push subscription signs its tokens as the push identity."
  }
  assert {
    condition     = length(toset([google_service_account.push.email, google_service_account.runtime["http"].email, google_service_account.runtime["events"].email])) == 3
    error_message = "Push identity and the two runtime identities are separate accounts."
  }
  assert {
    condition     = google_cloud_run_v2_service_iam_member.invokers["uptime-check"].member == "serviceAccount:service-123456789012@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
    error_message = "The Monitoring service agent may invoke the HTTP service for the uptime check."
  }
  assert {
    condition     = google_pubsub_topic_iam_member.pubsub_agent_dead_letters.member == "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com" && google_pubsub_topic_iam_member.pubsub_agent_dead_letters.topic == "clinical-assertion-dead-letter" && google_pubsub_topic_iam_member.pubsub_agent_dead_letters.role == "roles/pubsub.publisher"
    error_message = "The Pub/Sub service agent may publish to the dead-letter topic."
  }
  assert {
    condition     = google_pubsub_subscription_iam_member.pubsub_agent_acks_dead_lettered.member == "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com" && google_pubsub_subscription_iam_member.pubsub_agent_acks_dead_lettered.subscription == "clinical-assertion-push" && google_pubsub_subscription_iam_member.pubsub_agent_acks_dead_lettered.role == "roles/pubsub.subscriber"
    error_message = "The Pub/Sub service agent may acknowledge dead-lettered messages on the push subscription."
  }
  assert {
    condition     = google_kms_crypto_key_iam_member.pubsub_agent_encrypts[0].member == "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"
    error_message = "With a KMS key, the Pub/Sub service agent may use it."
  }
}

run "deployers_scoped_to_these_services" {
  command = apply

  variables {
    create_build_service_account = false
  }

  assert {
    condition = {
      for k, g in google_cloud_run_v2_service_iam_member.deployers : k => "${g.role} on ${g.name}"
      } == {
      "serviceAccount:123456789012@cloudbuild.gserviceaccount.com"        = "roles/run.developer on clinical-assertion"
      "events serviceAccount:123456789012@cloudbuild.gserviceaccount.com" = "roles/run.developer on clinical-assertion-events"
    }
    error_message = "Deployers get run.developer on the two services only (the HTTP grant keeps its key from before the events service)."
  }
  assert {
    condition     = google_service_account_iam_member.deployers_act_as_runtime["serviceAccount:123456789012@cloudbuild.gserviceaccount.com"].service_account_id == google_service_account.runtime["http"].name && google_service_account_iam_member.deployers_act_as_runtime["events serviceAccount:123456789012@cloudbuild.gserviceaccount.com"].service_account_id == google_service_account.runtime["events"].name && length(google_service_account_iam_member.deployers_act_as_runtime) == 2
    error_message = "Deployers may act as the two runtime accounts only, not every account in the project."
  }
  assert {
    condition     = google_artifact_registry_repository_iam_member.deployers_push_images["serviceAccount:123456789012@cloudbuild.gserviceaccount.com"].role == "roles/artifactregistry.writer"
    error_message = "Deployers may push images to this repository."
  }
}

run "the_build_account_holds_exactly_the_roles_its_steps_use" {
  command = apply

  assert {
    condition     = google_service_account.build[0].account_id == "assertion-build"
    error_message = "The pipelines run as assertion-build (cloudbuild.yaml's _BUILD_SERVICE_ACCOUNT)."
  }
  assert {
    condition = toset(concat(
      [for k, g in google_cloud_run_v2_service_iam_member.deployers : g.role if g.member == "serviceAccount:assertion-build@acme-clinical-nlp.iam.gserviceaccount.com"],
      [for k, g in google_service_account_iam_member.deployers_act_as_runtime : g.role if g.member == "serviceAccount:assertion-build@acme-clinical-nlp.iam.gserviceaccount.com"],
      [for k, g in google_artifact_registry_repository_iam_member.deployers_push_images : g.role if g.member == "serviceAccount:assertion-build@acme-clinical-nlp.iam.gserviceaccount.com"],
      [google_cloud_run_v2_service_iam_member.build_invokes_http[0].role, google_secret_manager_secret_iam_member.build_reads_api_key[0].role, google_project_iam_member.build_writes_logs[0].role],
    )) == toset(keys(local.build_roles))
    error_message = "The build account holds exactly the roles local.build_roles justifies by the pipelines' steps."
  }
  assert {
    condition     = length([for k, g in google_cloud_run_v2_service_iam_member.deployers : k if g.member == "serviceAccount:assertion-build@acme-clinical-nlp.iam.gserviceaccount.com"]) == 2 && google_cloud_run_v2_service_iam_member.build_invokes_http[0].name == google_cloud_run_v2_service.function["http"].name
    error_message = "It deploys both services and invokes the HTTP one only (the smoke and canary checks)."
  }
}

run "no_build_account_when_brought_along" {
  command = plan

  variables {
    create_build_service_account = false
  }

  assert {
    condition     = length(google_service_account.build) == 0 && length(google_project_iam_member.build_writes_logs) == 0 && length(google_cloud_run_v2_service_iam_member.build_invokes_http) == 0
    error_message = "create_build_service_account = false creates no account and no grant for it."
  }
}

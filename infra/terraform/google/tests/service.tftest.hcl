# The Cloud Run services (HTTP API and Pub/Sub events): who may call each, what each runs as,
# how each is probed and configured.

mock_provider "google" {
  source = "./tests/mocks"
}

run "private_by_default" {
  command = plan

  assert {
    condition     = length(google_cloud_run_v2_service_iam_member.public) == 0
    error_message = "No allUsers invoker may exist unless allow_unauthenticated = true."
  }
  assert {
    condition     = keys(google_cloud_run_v2_service_iam_member.invokers) == ["events pubsub-push", "uptime-check"]
    error_message = "With no invoker_members, only the push identity and the uptime check may invoke."
  }
  assert {
    condition = {
      for k, g in google_cloud_run_v2_service_iam_member.invokers : k => g.name
      } == {
      "events pubsub-push" = "clinical-assertion-events"
      "uptime-check"       = "clinical-assertion"
    }
    error_message = "The uptime check may invoke the HTTP service only, the push identity the events service only."
  }
  assert {
    condition     = google_cloud_run_v2_service.function["http"].ingress == "INGRESS_TRAFFIC_ALL" && google_cloud_run_v2_service.function["events"].ingress == "INGRESS_TRAFFIC_ALL"
    error_message = "Default ingress is ALL (IAM still authenticates every call)."
  }
}

run "allUsers_only_when_allowed" {
  command = plan

  variables {
    allow_unauthenticated = true
  }

  assert {
    condition     = length(google_cloud_run_v2_service_iam_member.public) == 1 && google_cloud_run_v2_service_iam_member.public[0].member == "allUsers" && google_cloud_run_v2_service_iam_member.public[0].role == "roles/run.invoker"
    error_message = "allow_unauthenticated = true must grant roles/run.invoker to allUsers."
  }
  assert {
    condition     = google_cloud_run_v2_service_iam_member.public[0].name == google_cloud_run_v2_service.function["http"].name
    error_message = "allow_unauthenticated makes the HTTP service public, nothing else."
  }
}

run "events_service_never_public" {
  command = apply

  variables {
    allow_unauthenticated = true
    invoker_members       = ["group:clinical-nlp@example.org"]
  }

  assert {
    condition = [
      for g in concat(values(google_cloud_run_v2_service_iam_member.invokers), google_cloud_run_v2_service_iam_member.public) :
      g.member if g.name == google_cloud_run_v2_service.function["events"].name
    ] == ["serviceAccount:${google_service_account.push.email}"]
    error_message = "Even with allow_unauthenticated = true, only the push identity may invoke the events service: no allUsers, no invoker_members."
  }
}

run "listed_invokers_only" {
  command = plan

  variables {
    invoker_members = ["group:clinical-nlp@example.org", "serviceAccount:caller@acme-clinical-nlp.iam.gserviceaccount.com"]
  }

  assert {
    condition     = toset(keys(google_cloud_run_v2_service_iam_member.invokers)) == toset(["group:clinical-nlp@example.org", "serviceAccount:caller@acme-clinical-nlp.iam.gserviceaccount.com", "events pubsub-push", "uptime-check"])
    error_message = "Exactly the listed members (besides push and uptime identities) get roles/run.invoker."
  }
  assert {
    condition     = google_cloud_run_v2_service_iam_member.invokers["group:clinical-nlp@example.org"].name == "clinical-assertion" && google_cloud_run_v2_service_iam_member.invokers["serviceAccount:caller@acme-clinical-nlp.iam.gserviceaccount.com"].name == "clinical-assertion"
    error_message = "invoker_members may call the HTTP service, not the events service."
  }
  assert {
    condition     = alltrue([for m in google_cloud_run_v2_service_iam_member.invokers : m.role == "roles/run.invoker"])
    error_message = "Invoker grants carry roles/run.invoker only."
  }
}

run "runs_as_its_own_service_account" {
  command = apply

  assert {
    condition     = google_cloud_run_v2_service.function["http"].template[0].service_account == google_service_account.runtime["http"].email
    error_message = "The HTTP service must run as its dedicated runtime service account."
  }
  assert {
    condition     = google_cloud_run_v2_service.function["events"].template[0].service_account == google_service_account.runtime["events"].email && google_service_account.runtime["events"].email != google_service_account.runtime["http"].email
    error_message = "The events service must run as its own runtime service account, not the HTTP service's."
  }
  assert {
    condition     = google_service_account.runtime["http"].account_id == "clinical-assertion-run" && google_service_account.runtime["events"].account_id == "clinical-assertion-events"
    error_message = "The runtime service accounts are named after the service."
  }
  assert {
    condition     = google_cloud_run_v2_service.function["http"].name == "clinical-assertion" && google_cloud_run_v2_service.function["events"].name == "clinical-assertion-events"
    error_message = "The HTTP service is service_name; the events service is service_name-events."
  }
  assert {
    condition     = output.service_account_email == google_service_account.runtime["http"].email && output.events_service_account_email == google_service_account.runtime["events"].email
    error_message = "The service account outputs name each service's runtime account."
  }
  assert {
    condition     = output.service_url == "https://clinical-assertion-abc123-ew.a.run.app" && output.events_service_url == "https://clinical-assertion-events-abc123-ew.a.run.app"
    error_message = "The service_url and events_service_url outputs are the services' URIs."
  }
  assert {
    condition     = output.service_name == "clinical-assertion" && output.events_service_name == "clinical-assertion-events"
    error_message = "The service name outputs name each service (for gcloud run deploy)."
  }
}

run "probes_health_and_resources" {
  command = plan

  assert {
    condition     = google_cloud_run_v2_service.function["http"].template[0].containers[0].startup_probe[0].http_get[0].path == "/health" && length(google_cloud_run_v2_service.function["http"].template[0].containers[0].startup_probe[0].tcp_socket) == 0
    error_message = "The HTTP service's startup probe must call /health."
  }
  assert {
    condition     = google_cloud_run_v2_service.function["http"].template[0].containers[0].liveness_probe[0].http_get[0].path == "/health"
    error_message = "The HTTP service's liveness probe must call /health."
  }
  assert {
    condition     = google_cloud_run_v2_service.function["http"].template[0].containers[0].startup_probe[0].http_get[0].port == 8080
    error_message = "Probes target the container port."
  }
  assert {
    condition     = google_cloud_run_v2_service.function["http"].template[0].containers[0].resources[0].startup_cpu_boost == true
    error_message = "Startup CPU boost must be on."
  }
  assert {
    condition     = google_cloud_run_v2_service.function["http"].template[0].containers[0].resources[0].limits == tomap({ cpu = "2", memory = "2Gi" })
    error_message = "Default resources are 2 vCPU and 2Gi."
  }
  assert {
    condition     = google_cloud_run_v2_service.function["http"].template[0].max_instance_request_concurrency == 8 && google_cloud_run_v2_service.function["http"].template[0].scaling[0].min_instance_count == 0 && google_cloud_run_v2_service.function["http"].template[0].scaling[0].max_instance_count == 10
    error_message = "Concurrency and scaling come from the variables' defaults."
  }
  assert {
    condition     = google_cloud_run_v2_service.function["http"].template[0].timeout == "60s"
    error_message = "Request timeout comes from request_timeout_seconds."
  }
  assert {
    condition     = google_cloud_run_v2_service.function["http"].template[0].containers[0].image == var.image && google_cloud_run_v2_service.function["events"].template[0].containers[0].image == var.image
    error_message = "Both services are created with var.image."
  }
}

run "events_probe_is_tcp_not_health" {
  command = plan

  assert {
    condition     = length(google_cloud_run_v2_service.function["events"].template[0].containers[0].startup_probe[0].http_get) == 0 && length(google_cloud_run_v2_service.function["events"].template[0].containers[0].liveness_probe) == 0
    error_message = "The events service has no GET route: no HTTP probe on /health, startup or liveness."
  }
  assert {
    condition     = google_cloud_run_v2_service.function["events"].template[0].containers[0].startup_probe[0].tcp_socket[0].port == 8080 && google_cloud_run_v2_service.function["events"].template[0].containers[0].startup_probe[0].failure_threshold == 24
    error_message = "The events service has a TCP startup probe on the container port, with the startup_probe timing."
  }
}

run "events_sized_by_its_own_variables" {
  command = plan

  variables {
    events_cpu           = "4"
    events_memory        = "4Gi"
    events_concurrency   = 4
    events_min_instances = 1
    events_max_instances = 3
  }

  assert {
    condition     = google_cloud_run_v2_service.function["events"].template[0].containers[0].resources[0].limits == tomap({ cpu = "4", memory = "4Gi" }) && google_cloud_run_v2_service.function["events"].template[0].containers[0].resources[0].startup_cpu_boost == true
    error_message = "The events service's resources come from events_cpu and events_memory, with startup CPU boost."
  }
  assert {
    condition     = google_cloud_run_v2_service.function["events"].template[0].max_instance_request_concurrency == 4 && google_cloud_run_v2_service.function["events"].template[0].scaling[0].min_instance_count == 1 && google_cloud_run_v2_service.function["events"].template[0].scaling[0].max_instance_count == 3
    error_message = "The events service's concurrency and scaling come from its own variables."
  }
  assert {
    condition     = google_cloud_run_v2_service.function["http"].template[0].containers[0].resources[0].limits == tomap({ cpu = "2", memory = "2Gi" }) && google_cloud_run_v2_service.function["http"].template[0].scaling[0].max_instance_count == 10
    error_message = "The events variables leave the HTTP service alone."
  }
}

run "function_environment" {
  command = plan

  variables {
    extra_env = { HF_HUB_OFFLINE = "1" }
  }

  assert {
    condition = {
      for e in google_cloud_run_v2_service.function["http"].template[0].containers[0].env : e.name => e.value
      } == {
      FUNCTION_TARGET      = "predict_http"
      FUNCTION_USE_ASGI    = "true"
      MODEL_DIR            = "/app/model"
      API_KEY_SECRET       = "projects/acme-clinical-nlp/secrets/clinical-assertion-api-key/versions/latest"
      GOOGLE_CLOUD_PROJECT = "acme-clinical-nlp"
      LOG_LEVEL            = "INFO"
      MAX_BATCH_SIZE       = "100"
      ALLOW_UNMARKED       = "false"
      HF_HUB_OFFLINE       = "1"
    }
    error_message = "The HTTP container gets exactly the environment predict_http reads (no topics: it publishes nothing), plus extra_env."
  }
  assert {
    condition = {
      for e in google_cloud_run_v2_service.function["events"].template[0].containers[0].env : e.name => e.value
      } == {
      FUNCTION_TARGET         = "predict_pubsub"
      FUNCTION_SIGNATURE_TYPE = "cloudevent"
      FUNCTION_USE_ASGI       = "false"
      MODEL_DIR               = "/app/model"
      GOOGLE_CLOUD_PROJECT    = "acme-clinical-nlp"
      RESULTS_TOPIC           = "projects/acme-clinical-nlp/topics/clinical-assertion-results"
      ERRORS_TOPIC            = "projects/acme-clinical-nlp/topics/clinical-assertion-errors"
      LOG_LEVEL               = "INFO"
      MAX_BATCH_SIZE          = "100"
      ALLOW_UNMARKED          = "false"
      HF_HUB_OFFLINE          = "1"
    }
    error_message = "The events container gets exactly the environment predict_pubsub reads (no API_KEY_SECRET; FUNCTION_USE_ASGI=false, since the image defaults it to true), plus extra_env."
  }
}

run "without_api_key" {
  command = plan

  variables {
    api_key_secret_id = ""
  }

  assert {
    condition     = length(google_secret_manager_secret.api_key) == 0 && length(google_secret_manager_secret_iam_member.runtime_reads_api_key) == 0
    error_message = "An empty api_key_secret_id creates no secret and no grant."
  }
  assert {
    condition     = one([for e in google_cloud_run_v2_service.function["http"].template[0].containers[0].env : e.value if e.name == "API_KEY_SECRET"]) == ""
    error_message = "API_KEY_SECRET is empty when there is no secret."
  }
}

run "vpc_connector_on_by_default" {
  command = apply

  assert {
    condition     = length(google_vpc_access_connector.egress) == 1 && google_vpc_access_connector.egress[0].ip_cidr_range == "10.8.0.0/28" && google_vpc_access_connector.egress[0].name == "clinical-assertion-vpc"
    error_message = "A connector on 10.8.0.0/28 is created by default."
  }
  assert {
    condition     = alltrue([for s in google_cloud_run_v2_service.function : s.template[0].vpc_access[0].connector == google_vpc_access_connector.egress[0].id && s.template[0].vpc_access[0].egress == "PRIVATE_RANGES_ONLY"]) && length(google_cloud_run_v2_service.function) == 2
    error_message = "Both services send private-range egress through the connector."
  }
}

run "vpc_connector_can_be_turned_off" {
  command = plan

  variables {
    enable_vpc_connector = false
  }

  assert {
    condition     = length(google_vpc_access_connector.egress) == 0 && alltrue([for s in google_cloud_run_v2_service.function : length(s.template[0].vpc_access) == 0])
    error_message = "enable_vpc_connector = false removes the connector and the services' vpc_access."
  }
  assert {
    condition     = !contains(keys(google_project_service.apis), "vpcaccess.googleapis.com")
    error_message = "Without a connector, the VPC Access API is not enabled."
  }
}

run "vpc_connector_on_existing_subnet" {
  command = plan

  variables {
    vpc_connector_subnet            = "serverless-connector"
    vpc_connector_subnet_project_id = "acme-network-host"
  }

  assert {
    condition     = google_vpc_access_connector.egress[0].subnet[0].name == "serverless-connector" && google_vpc_access_connector.egress[0].subnet[0].project_id == "acme-network-host" && google_vpc_access_connector.egress[0].ip_cidr_range == null
    error_message = "With a subnet, the connector uses it instead of a CIDR range."
  }
}

# The function on Cloud Run: two services from the same image, one worker each, model baked
# into the image. The `functions-framework` CLI in the image reads FUNCTION_TARGET (and its
# other FUNCTION_* variables) to choose what the container serves:
#   http:   the HTTP API (GET /health, POST /predict, /predict/batch, /predict/spans);
#   events: Pub/Sub push deliveries and Eventarc CloudEvents (POST on any path, no GET route).
# Both are one resource over local.services: what differs between them is in that map.

locals {
  # What both services read at start (see the function's README). Names of topics and the
  # secret are built from known values so they are readable in a plan.
  common_env = merge(var.extra_env, {
    MODEL_DIR            = var.model_dir
    GOOGLE_CLOUD_PROJECT = var.project_id
    LOG_LEVEL            = var.log_level
    MAX_BATCH_SIZE       = tostring(var.max_batch_size)
    ALLOW_UNMARKED       = tostring(var.allow_unmarked)
  })

  services = {
    http = {
      name        = var.service_name
      description = "Clinical assertion classification (PRESENT / ABSENT / POSSIBLE): the HTTP API."
      cpu         = var.cpu
      memory      = var.memory
      concurrency = var.concurrency
      min         = var.min_instances
      max         = var.max_instances
      # Prefix of this service's variable names (min_instances, events_min_instances, ...).
      var_prefix = ""
      env = merge(local.common_env, {
        FUNCTION_TARGET   = "predict_http"
        FUNCTION_USE_ASGI = "true"
        API_KEY_SECRET    = local.has_api_key ? "projects/${var.project_id}/secrets/${local.api_key_secret_id}/versions/latest" : ""
      })
      # GET /health answers 200 once the model is loaded, 503 before.
      health_path = var.health_check_path
    }
    events = {
      name        = local.names.events_service
      description = "Clinical assertion classification of Pub/Sub messages (push subscription, Eventarc); results and rejected messages go to topics."
      cpu         = var.events_cpu
      memory      = var.events_memory
      concurrency = var.events_concurrency
      min         = var.events_min_instances
      max         = var.events_max_instances
      var_prefix  = "events_"
      # Not ASGI: only the Flask stack accepts a push subscription's plain envelope (the ASGI
      # one answers 400, and Pub/Sub would redeliver until the dead-letter topic). The image
      # sets FUNCTION_USE_ASGI=true for the HTTP target, so leaving it out is not enough.
      # No API_KEY_SECRET: IAM on the push identity is the only gate here.
      env = merge(local.common_env, {
        FUNCTION_TARGET         = "predict_pubsub"
        FUNCTION_SIGNATURE_TYPE = "cloudevent"
        FUNCTION_USE_ASGI       = "false"
        RESULTS_TOPIC           = local.topic_ids.results
        ERRORS_TOPIC            = local.topic_ids.errors
      })
      # Every path answers POST only, so there is nothing to GET: see the probes below.
      health_path = null
    }
  }
}

resource "google_cloud_run_v2_service" "function" {
  for_each = local.services

  project             = var.project_id
  location            = var.region
  name                = each.value.name
  description         = each.value.description
  ingress             = var.ingress
  deletion_protection = var.deletion_protection
  labels              = local.labels

  template {
    service_account                  = google_service_account.runtime[each.key].email
    timeout                          = "${var.request_timeout_seconds}s"
    max_instance_request_concurrency = each.value.concurrency
    labels                           = local.labels

    scaling {
      min_instance_count = each.value.min
      max_instance_count = each.value.max
    }

    dynamic "vpc_access" {
      for_each = var.enable_vpc_connector ? [google_vpc_access_connector.egress[0].id] : []
      content {
        connector = vpc_access.value
        egress    = var.vpc_egress
      }
    }

    containers {
      name  = "function"
      image = var.image

      ports {
        container_port = var.container_port
      }

      resources {
        limits = {
          cpu    = each.value.cpu
          memory = each.value.memory
        }
        cpu_idle = var.cpu_idle
        # Imports and model load are CPU-bound: extra CPU during start shortens cold starts.
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = each.value.env
        content {
          name  = env.key
          value = env.value
        }
      }

      startup_probe {
        period_seconds    = var.startup_probe.period_seconds
        timeout_seconds   = var.startup_probe.timeout_seconds
        failure_threshold = var.startup_probe.failure_threshold

        # HTTP service: no traffic until /health answers 200, i.e. the model is loaded.
        dynamic "http_get" {
          for_each = each.value.health_path == null ? [] : [each.value.health_path]
          content {
            path = http_get.value
            port = var.container_port
          }
        }

        # Events service: it has no GET route at all (an HTTP probe would get 405 forever), so
        # the probe waits for the port. gunicorn binds it once the configuration and the model
        # folder were checked; its worker loads the model before it accepts a connection, so
        # early deliveries wait on the socket instead of failing.
        dynamic "tcp_socket" {
          for_each = each.value.health_path == null ? [var.container_port] : []
          content {
            port = tcp_socket.value
          }
        }
      }

      # HTTP only: Cloud Run liveness probes are HTTP or gRPC, and the events service answers
      # neither a GET nor gRPC. A worker that cannot load the model stops the container.
      dynamic "liveness_probe" {
        for_each = each.value.health_path == null ? [] : [each.value.health_path]
        content {
          period_seconds    = var.liveness_probe.period_seconds
          timeout_seconds   = var.liveness_probe.timeout_seconds
          failure_threshold = var.liveness_probe.failure_threshold
          http_get {
            path = liveness_probe.value
            port = var.container_port
          }
        }
      }
    }
  }

  traffic {
    type    = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    percent = 100
  }

  lifecycle {
    # Cloud Build deploys new images with gcloud, which also stamps client fields; without this
    # every `terraform apply` would roll the services back to var.image. Traffic belongs to
    # Cloud Build and to on-call too: a canary split, a failed canary put back, or a rollback
    # to a previous revision must survive an apply. Terraform sets "latest, 100 %" once, at
    # creation; Cloud Build's promote step sets it again after every good rollout.
    ignore_changes = [
      template[0].containers[0].image,
      client,
      client_version,
      traffic,
    ]

    precondition {
      condition     = each.value.min <= each.value.max
      error_message = "${each.value.var_prefix}min_instances must not exceed ${each.value.var_prefix}max_instances."
    }
  }

  depends_on = [
    google_project_service.apis,
    # The HTTP service reads its secret at start; the events service publishes from its first
    # message.
    google_secret_manager_secret_iam_member.runtime_reads_api_key,
    google_pubsub_topic_iam_member.events_publishes,
  ]
}

# Before the events service existed, the HTTP service was the only one, with no key.
moved {
  from = google_cloud_run_v2_service.function
  to   = google_cloud_run_v2_service.function["http"]
}

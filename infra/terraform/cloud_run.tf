# The function on Cloud Run: one container, one worker, model baked into the image.

locals {
  # What the function reads at start (see the function's README). Topic and secret names are
  # built from known values so they are readable in a plan.
  function_env = merge(var.extra_env, {
    MODEL_DIR            = var.model_dir
    API_KEY_SECRET       = local.has_api_key ? "projects/${var.project_id}/secrets/${local.api_key_secret_id}/versions/latest" : ""
    GOOGLE_CLOUD_PROJECT = var.project_id
    RESULTS_TOPIC        = local.topic_ids.results
    ERRORS_TOPIC         = local.topic_ids.errors
    LOG_LEVEL            = var.log_level
    MAX_BATCH_SIZE       = tostring(var.max_batch_size)
    ALLOW_UNMARKED       = tostring(var.allow_unmarked)
  })
}

resource "google_cloud_run_v2_service" "function" {
  project             = var.project_id
  location            = var.region
  name                = var.service_name
  description         = "Clinical assertion classification (PRESENT / ABSENT / POSSIBLE)."
  ingress             = var.ingress
  deletion_protection = var.deletion_protection
  labels              = local.labels

  template {
    service_account                  = google_service_account.runtime.email
    timeout                          = "${var.request_timeout_seconds}s"
    max_instance_request_concurrency = var.concurrency
    labels                           = local.labels

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
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
          cpu    = var.cpu
          memory = var.memory
        }
        cpu_idle = var.cpu_idle
        # Imports and model load are CPU-bound: extra CPU during start shortens cold starts.
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = local.function_env
        content {
          name  = env.key
          value = env.value
        }
      }

      # No traffic until /health answers 200, i.e. the model is loaded.
      startup_probe {
        period_seconds    = var.startup_probe.period_seconds
        timeout_seconds   = var.startup_probe.timeout_seconds
        failure_threshold = var.startup_probe.failure_threshold
        http_get {
          path = var.health_check_path
          port = var.container_port
        }
      }

      liveness_probe {
        period_seconds    = var.liveness_probe.period_seconds
        timeout_seconds   = var.liveness_probe.timeout_seconds
        failure_threshold = var.liveness_probe.failure_threshold
        http_get {
          path = var.health_check_path
          port = var.container_port
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
    # every `terraform apply` would roll the service back to var.image.
    ignore_changes = [
      template[0].containers[0].image,
      client,
      client_version,
    ]

    precondition {
      condition     = var.min_instances <= var.max_instances
      error_message = "min_instances must not exceed max_instances."
    }
    precondition {
      condition     = var.pubsub_ack_deadline_seconds >= min(var.request_timeout_seconds, 600)
      error_message = "pubsub_ack_deadline_seconds is shorter than request_timeout_seconds: Pub/Sub would redeliver messages the service is still working on."
    }
  }

  depends_on = [
    google_project_service.apis,
    # The function reads its secret and may publish from its first request.
    google_secret_manager_secret_iam_member.runtime_reads_api_key,
    google_pubsub_topic_iam_member.runtime_publishes,
  ]
}

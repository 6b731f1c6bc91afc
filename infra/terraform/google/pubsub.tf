# Event-driven callers publish to the requests topic; a push subscription delivers each
# message to the events service with an OIDC token; that service publishes the result to the
# results topic, or a malformed message whole to the errors topic, and answers 2xx (ack), or
# answers 500 to have the message redelivered. Messages that keep failing go to the
# dead-letter topic, where a pull subscription holds them for inspection and replay.

resource "google_pubsub_topic" "topic" {
  # Google-managed encryption unless pubsub_kms_key_name names a CMEK key.
  for_each = local.topic_names

  project = var.project_id
  name    = each.value
  labels  = local.labels

  message_retention_duration = var.topic_message_retention_seconds == null ? null : "${var.topic_message_retention_seconds}s"
  kms_key_name               = var.pubsub_kms_key_name

  # Messages carry patient text: keep them in the deployment's region unless told otherwise.
  message_storage_policy {
    allowed_persistence_regions = length(var.pubsub_persistence_regions) > 0 ? var.pubsub_persistence_regions : [var.region]
  }

  depends_on = [
    google_project_service.apis,
    google_kms_crypto_key_iam_member.pubsub_agent_encrypts,
  ]
}

resource "google_pubsub_subscription" "push" {
  project = var.project_id
  name    = local.names.push_subscription
  topic   = google_pubsub_topic.topic["requests"].id
  labels  = local.labels

  ack_deadline_seconds       = var.pubsub_ack_deadline_seconds
  message_retention_duration = "${var.pubsub_message_retention_seconds}s"

  # A subscription that never expires: a quiet week must not delete the service's input.
  expiration_policy {
    ttl = ""
  }

  # The plain push envelope (no_wrapper unset): the events service takes it as a CloudEvent.
  push_config {
    push_endpoint = "${google_cloud_run_v2_service.function["events"].uri}${var.push_endpoint_path}"

    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = google_cloud_run_v2_service.function["events"].uri
    }
  }

  retry_policy {
    minimum_backoff = "${var.pubsub_retry_minimum_backoff_seconds}s"
    maximum_backoff = "${var.pubsub_retry_maximum_backoff_seconds}s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.topic["dead_letter"].id
    max_delivery_attempts = var.pubsub_max_delivery_attempts
  }

  lifecycle {
    precondition {
      condition     = var.pubsub_retry_minimum_backoff_seconds <= var.pubsub_retry_maximum_backoff_seconds
      error_message = "pubsub_retry_minimum_backoff_seconds must not exceed pubsub_retry_maximum_backoff_seconds."
    }
    precondition {
      condition     = var.pubsub_ack_deadline_seconds >= min(var.request_timeout_seconds, 600)
      error_message = "pubsub_ack_deadline_seconds is shorter than request_timeout_seconds: Pub/Sub would redeliver messages the events service is still working on."
    }
  }

  # Deliveries before the invoker grant exists would fail with 403 and burn delivery attempts.
  depends_on = [google_cloud_run_v2_service_iam_member.invokers]
}

# Without a subscription, messages forwarded to the dead-letter topic would be dropped.
resource "google_pubsub_subscription" "dead_letter" {
  project = var.project_id
  name    = local.names.dead_letter_sub
  topic   = google_pubsub_topic.topic["dead_letter"].id
  labels  = local.labels

  ack_deadline_seconds       = 60
  message_retention_duration = "${var.pubsub_message_retention_seconds}s"

  expiration_policy {
    ttl = ""
  }
}

# Log-based metrics from the function's structured log lines: "request" lines of the HTTP
# service, "message" lines of the events service (one per Pub/Sub message, source "pubsub").
# Both services' predictions count alike. Only lines where predictions were made carry
# label_counts; those are the ones counted (a message's line has them when its result was
# published, never on "rejected" or "retry"). Every value is a count taken from a numeric
# field: no metric label exists, so nothing from a request (patient text) can reach a metric.
#
# Each metric is a DELTA distribution of a per-line count. Its sum over a window is the number
# of predictions in that window (PromQL: <metric>_sum).

locals {
  prediction_lines_filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=(${join(" OR ", [for s in local.watched_services : "\"${s.name}\""])})",
    "jsonPayload.event=(\"request\" OR \"message\")",
    # A numeric comparison only matches lines that have the field: lines with predictions.
    "jsonPayload.label_counts.PRESENT>=0",
  ])

  # Counts per log line go from 1 to max_batch_size: powers of two cover them in few buckets.
  count_metrics = merge(
    {
      for label in ["PRESENT", "ABSENT", "POSSIBLE"] : "predictions_${lower(label)}" => {
        field       = "jsonPayload.label_counts.${label}"
        description = "Predictions labelled ${label} (sum of label_counts.${label} over request and message log lines)."
      }
    },
    {
      predicted_items = {
        field       = "jsonPayload.item_count"
        description = "Items predicted (sum of item_count over log lines that made predictions)."
      }
      low_confidence_predictions = {
        field       = "jsonPayload.low_confidence_count"
        description = "Predictions whose top score is below the function's LOW_CONFIDENCE_THRESHOLD (sum of low_confidence_count)."
      }
    },
  )

  log_metric_names = { for k, _ in local.count_metrics : k => "${local.names.metric_prefix}_${k}" }
  # How PromQL names a log-based distribution's sum: logging.googleapis.com/user/NAME -> this.
  promql_sum = {
    for k, name in local.log_metric_names : k => "logging_googleapis_com:user_${name}_sum{monitored_resource=\"cloud_run_revision\"}"
  }
}

resource "google_logging_metric" "prediction_counts" {
  for_each = local.count_metrics

  project         = var.project_id
  name            = local.log_metric_names[each.key]
  description     = each.value.description
  filter          = local.prediction_lines_filter
  value_extractor = "EXTRACT(${each.value.field})"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "1"
    display_name = "${var.service_name} ${replace(each.key, "_", " ")}"
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 14
      growth_factor      = 2
      scale              = 1
    }
  }

  depends_on = [google_project_service.apis]
}

# Variants passed over at start: an instance whose int8 variant failed its start-up check on
# the CPU it landed on logs one "variant_check_failed" line and serves the next variant (fp32).
# The answers stay right (that is what the check is for); latency and cost rise, and it means
# a host computes other numbers than the bake judged (a new CPU kind, a runtime upgrade).
resource "google_logging_metric" "variant_check_failures" {
  project     = var.project_id
  name        = "${local.names.metric_prefix}_variant_check_failures"
  description = "Model variants that failed their start-up check on an instance's CPU and were passed over (log lines with event variant_check_failed)."
  filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=(${join(" OR ", [for s in local.watched_services : "\"${s.name}\""])})",
    "jsonPayload.event=\"variant_check_failed\"",
  ])

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "${var.service_name} variant check failures"
  }

  depends_on = [google_project_service.apis]
}

# The micro-batcher's queue as each HTTP request found it: "request" lines carry queue_depth,
# the inputs already waiting for inference when the request's joined. Its high percentiles
# show saturation before latency does (QUEUE_MAX_ITEMS is where requests get 503 overloaded).
resource "google_logging_metric" "queue_depth" {
  project         = var.project_id
  name            = "${local.names.metric_prefix}_queue_depth"
  description     = "Inputs waiting for inference when each HTTP request joined the queue (queue_depth of request log lines)."
  value_extractor = "EXTRACT(jsonPayload.queue_depth)"
  filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${local.services.http.name}\"",
    "jsonPayload.event=\"request\"",
    "jsonPayload.queue_depth>=0",
  ])

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "1"
    display_name = "${var.service_name} queue depth"
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 16
      growth_factor      = 2
      scale              = 1
    }
  }

  depends_on = [google_project_service.apis]
}

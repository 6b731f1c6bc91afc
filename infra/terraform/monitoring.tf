# What pages on-call: one alert policy per signal, each naming its runbook in docs/runbooks/.
# All policies share one shape (a single condition, the same channels, documentation built the
# same way), so they are one resource over a map; the map below is the list of signals.

locals {
  cloud_run_filter = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${var.service_name}\""
  push_sub_filter  = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${local.names.push_subscription}\""
  by_service       = ["resource.label.service_name"]

  notification_channels = concat(
    [for c in google_monitoring_notification_channel.email : c.id],
    var.notification_channel_ids,
  )

  # Every entry: display name, severity, runbook page, a one-line meaning, and either a
  # `threshold` (metric condition) or a `promql` query. Thresholds come from variables.tf.
  alerts_all = {
    error_rate = {
      name     = "5xx ratio above ${var.error_rate_threshold * 100}%"
      severity = "CRITICAL"
      runbook  = "error-rate"
      summary  = "More than ${var.error_rate_threshold * 100}% of requests to ${var.service_name} answered 5xx over 5 minutes."
      promql   = null
      threshold = {
        filter             = "${local.cloud_run_filter} AND metric.type=\"run.googleapis.com/request_count\" AND metric.labels.response_code_class=\"5xx\""
        denominator_filter = "${local.cloud_run_filter} AND metric.type=\"run.googleapis.com/request_count\""
        aligner            = "ALIGN_RATE"
        reducer            = "REDUCE_SUM"
        group_by           = local.by_service
        period             = "300s"
        comparison         = "COMPARISON_GT"
        value              = var.error_rate_threshold
        duration           = "300s"
      }
    }
    latency_p95 = {
      name     = "p95 latency above ${var.latency_p95_threshold_ms} ms"
      severity = "ERROR"
      runbook  = "latency"
      summary  = "The 95th percentile request latency of ${var.service_name} stayed above ${var.latency_p95_threshold_ms} ms."
      promql   = null
      threshold = {
        filter             = "${local.cloud_run_filter} AND metric.type=\"run.googleapis.com/request_latencies\""
        denominator_filter = null
        aligner            = "ALIGN_DELTA"
        reducer            = "REDUCE_PERCENTILE_95"
        group_by           = local.by_service
        period             = "300s"
        comparison         = "COMPARISON_GT"
        value              = var.latency_p95_threshold_ms
        duration           = "300s"
      }
    }
    service_down = {
      name     = "service down (uptime check on ${var.health_check_path} failing)"
      severity = "CRITICAL"
      runbook  = "service-down"
      summary  = "The uptime check on ${var.health_check_path} of ${var.service_name} fails from more than one region: the service is unreachable or its model is not loaded."
      promql   = null
      threshold = {
        filter             = "metric.type=\"monitoring.googleapis.com/uptime_check/check_passed\" AND metric.labels.check_id=\"${try(google_monitoring_uptime_check_config.health[0].uptime_check_id, "")}\""
        denominator_filter = null
        aligner            = "ALIGN_NEXT_OLDER"
        reducer            = "REDUCE_COUNT_FALSE"
        group_by           = ["resource.label.*"]
        period             = "1200s"
        comparison         = "COMPARISON_GT"
        value              = 1
        duration           = "60s"
      }
    }
    memory = {
      name     = "container memory above ${var.memory_utilization_threshold * 100}%"
      severity = "ERROR"
      runbook  = "memory"
      summary  = "Instances of ${var.service_name} use more than ${var.memory_utilization_threshold * 100}% of their ${var.memory} memory limit (99th percentile): out-of-memory restarts are near."
      promql   = null
      threshold = {
        filter             = "${local.cloud_run_filter} AND metric.type=\"run.googleapis.com/container/memory/utilizations\""
        denominator_filter = null
        aligner            = "ALIGN_PERCENTILE_99"
        reducer            = "REDUCE_MAX"
        group_by           = local.by_service
        period             = "300s"
        comparison         = "COMPARISON_GT"
        value              = var.memory_utilization_threshold
        duration           = "300s"
      }
    }
    instances_near_max = {
      name     = "instance count near max_instances (${var.max_instances})"
      severity = "WARNING"
      runbook  = "instances-near-max"
      summary  = "${var.service_name} runs at least ${ceil(var.max_instances * var.instance_count_threshold_ratio)} of its ${var.max_instances} allowed instances: more load will queue and time out."
      promql   = null
      threshold = {
        filter             = "${local.cloud_run_filter} AND metric.type=\"run.googleapis.com/container/instance_count\""
        denominator_filter = null
        aligner            = "ALIGN_MAX"
        reducer            = "REDUCE_SUM"
        group_by           = local.by_service
        period             = "60s"
        comparison         = "COMPARISON_GE"
        value              = ceil(var.max_instances * var.instance_count_threshold_ratio)
        duration           = "300s"
      }
    }
    cold_start = {
      name     = "container startup above ${var.startup_latency_threshold_ms} ms"
      severity = "WARNING"
      runbook  = "cold-start"
      summary  = "New instances of ${var.service_name} take more than ${var.startup_latency_threshold_ms} ms to start (95th percentile): callers wait on cold starts."
      promql   = null
      threshold = {
        filter             = "${local.cloud_run_filter} AND metric.type=\"run.googleapis.com/container/startup_latencies\""
        denominator_filter = null
        aligner            = "ALIGN_DELTA"
        reducer            = "REDUCE_PERCENTILE_95"
        group_by           = local.by_service
        period             = "600s"
        comparison         = "COMPARISON_GT"
        value              = var.startup_latency_threshold_ms
        duration           = "0s"
      }
    }
    pubsub_backlog = {
      name     = "Pub/Sub oldest unacked message older than ${var.pubsub_oldest_unacked_threshold_seconds} s"
      severity = "ERROR"
      runbook  = "pubsub-backlog"
      summary  = "The push subscription ${local.names.push_subscription} holds a message older than ${var.pubsub_oldest_unacked_threshold_seconds} s: deliveries to ${var.service_name} fail or lag."
      promql   = null
      threshold = {
        filter             = "${local.push_sub_filter} AND metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
        denominator_filter = null
        aligner            = "ALIGN_MAX"
        reducer            = "REDUCE_MAX"
        group_by           = ["resource.label.subscription_id"]
        period             = "60s"
        comparison         = "COMPARISON_GT"
        value              = var.pubsub_oldest_unacked_threshold_seconds
        duration           = "300s"
      }
    }
    dead_letter = {
      name     = "Pub/Sub messages dead-lettered"
      severity = "ERROR"
      runbook  = "dead-letter"
      summary  = "More than ${var.dead_letter_threshold} message(s) failed ${var.pubsub_max_delivery_attempts} deliveries to ${var.service_name} within 5 minutes and went to ${local.topic_names.dead_letter}."
      promql   = null
      threshold = {
        filter             = "${local.push_sub_filter} AND metric.type=\"pubsub.googleapis.com/subscription/dead_letter_message_count\""
        denominator_filter = null
        aligner            = "ALIGN_SUM"
        reducer            = "REDUCE_SUM"
        group_by           = ["resource.label.subscription_id"]
        period             = "300s"
        comparison         = "COMPARISON_GT"
        value              = var.dead_letter_threshold
        duration           = "0s"
      }
    }
    input_drift = {
      name      = "low-confidence share above ${var.low_confidence_share_threshold * 100}% (input drift)"
      severity  = "WARNING"
      runbook   = "input-drift"
      summary   = "Over the last hour more than ${var.low_confidence_share_threshold * 100}% of ${var.service_name}'s predictions were low-confidence (at least ${var.low_confidence_min_predictions} predictions): inputs no longer look like what the model was trained on."
      threshold = null
      # Share of predictions, not of requests: sum of low-confidence counts over sum of items.
      # The volume guard keeps a handful of odd requests in a quiet hour from alerting.
      promql = join(" ", [
        "(sum(rate(${local.promql_sum.low_confidence_predictions}[1h]))",
        "/ sum(rate(${local.promql_sum.predicted_items}[1h])))",
        "> ${var.low_confidence_share_threshold}",
        "and sum(increase(${local.promql_sum.predicted_items}[1h])) >= ${var.low_confidence_min_predictions}",
      ])
    }
  }

  alerts = { for k, a in local.alerts_all : k => a if k != "service_down" || var.enable_uptime_check }
}

resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.notification_emails)

  project      = var.project_id
  display_name = "${var.service_name} on-call: ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }
  user_labels = local.labels

  depends_on = [google_project_service.apis]
}

# Calls /health like a client would, from several regions, with an OIDC token of the
# Monitoring service agent (granted run.invoker in iam.tf): the service stays private.
resource "google_monitoring_uptime_check_config" "health" {
  count = var.enable_uptime_check ? 1 : 0

  project      = var.project_id
  display_name = "${var.service_name} ${var.health_check_path}"
  period       = var.uptime_check_period
  timeout      = "${var.uptime_check_timeout_seconds}s"
  checker_type = "STATIC_IP_CHECKERS"
  user_labels  = local.labels

  http_check {
    path           = var.health_check_path
    port           = 443
    use_ssl        = true
    validate_ssl   = true
    request_method = "GET"

    accepted_response_status_codes {
      status_value = 200
    }

    service_agent_authentication {
      type = "OIDC_TOKEN"
    }
  }

  monitored_resource {
    type = "cloud_run_revision"
    labels = {
      project_id   = var.project_id
      location     = var.region
      service_name = google_cloud_run_v2_service.function.name
    }
  }

  lifecycle {
    precondition {
      condition     = var.ingress == "INGRESS_TRAFFIC_ALL"
      error_message = "The uptime check calls the service from the internet and cannot reach it with ingress = ${var.ingress}. Set enable_uptime_check = false (and watch the service another way) or use INGRESS_TRAFFIC_ALL."
    }
  }
}

resource "google_monitoring_alert_policy" "signal" {
  for_each = local.alerts

  project               = var.project_id
  display_name          = "${var.service_name}: ${each.value.name}"
  combiner              = "OR"
  severity              = each.value.severity
  notification_channels = local.notification_channels
  user_labels           = merge(local.labels, { runbook = each.value.runbook })

  documentation {
    mime_type = "text/markdown"
    content = join("\n\n", [
      each.value.summary,
      var.runbook_base_url == "" ? "Runbook: docs/runbooks/${each.value.runbook}.md in the project repository." : "Runbook: ${var.runbook_base_url}/${each.value.runbook}.md",
    ])
  }

  conditions {
    display_name = each.value.name

    dynamic "condition_threshold" {
      for_each = each.value.threshold == null ? [] : [each.value.threshold]
      content {
        filter             = condition_threshold.value.filter
        denominator_filter = condition_threshold.value.denominator_filter
        comparison         = condition_threshold.value.comparison
        threshold_value    = condition_threshold.value.value
        duration           = condition_threshold.value.duration

        aggregations {
          alignment_period     = condition_threshold.value.period
          per_series_aligner   = condition_threshold.value.aligner
          cross_series_reducer = condition_threshold.value.reducer
          group_by_fields      = condition_threshold.value.group_by
        }

        dynamic "denominator_aggregations" {
          for_each = condition_threshold.value.denominator_filter == null ? [] : [1]
          content {
            alignment_period     = condition_threshold.value.period
            per_series_aligner   = condition_threshold.value.aligner
            cross_series_reducer = condition_threshold.value.reducer
            group_by_fields      = condition_threshold.value.group_by
          }
        }

        trigger {
          count = 1
        }
      }
    }

    dynamic "condition_prometheus_query_language" {
      for_each = each.value.promql == null ? [] : [each.value.promql]
      content {
        query               = condition_prometheus_query_language.value
        duration            = "1800s"
        evaluation_interval = "300s"
      }
    }
  }

  alert_strategy {
    auto_close = "3600s"
  }

  depends_on = [google_logging_metric.prediction_counts]
}

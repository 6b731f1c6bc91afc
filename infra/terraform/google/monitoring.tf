# What pages on-call: one alert policy per signal, each naming its runbook in docs/runbooks/.
# All policies share one shape (the same channels, documentation built the same way), so they
# are one resource over a map; the maps below are the list of signals. A signal that every
# Cloud Run service has (5xx ratio, latency, memory, instances, startup) is one policy with one
# condition per service, named after the service: the incident says which one it is about.

locals {
  push_sub_filter = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${local.names.push_subscription}\""
  by_service      = ["resource.label.service_name"]
  # Conditions come in this order: the HTTP service's first.
  watched_services = [local.services.http, local.services.events]
  service_names    = join(" and ", local.watched_services[*].name)
  cloud_run_filters = {
    for svc in local.watched_services : svc.name => "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${svc.name}\""
  }

  # Ratios as percentages for names and summaries: 0.3 * 100 prints as 30.000...002 otherwise.
  percent = {
    error_rate     = format("%.4g", var.error_rate_threshold * 100)
    memory         = format("%.4g", var.memory_utilization_threshold * 100)
    instances      = format("%.4g", var.instance_count_threshold_ratio * 100)
    low_confidence = format("%.4g", var.low_confidence_share_threshold * 100)
  }

  notification_channels = concat(
    [for c in google_monitoring_notification_channel.email : c.id],
    var.notification_channel_ids,
  )

  # Per-service signals. `metric` is a Cloud Run metric; `only`, when set, makes the condition
  # the ratio of what it selects to all of the metric. `of_max_instances` makes `value` a
  # share of each service's own max instances. Thresholds come from variables.tf.
  service_signals = {
    error_rate = {
      name             = "5xx ratio above ${local.percent.error_rate}%"
      severity         = "CRITICAL"
      runbook          = "error-rate"
      summary          = "More than ${local.percent.error_rate}% of the requests to one of ${local.service_names} answered 5xx over 5 minutes (the condition names the service). The events service answers 500 on purpose to have Pub/Sub redeliver a message it could not finish: its `outcome`=\"retry\" log lines say why."
      metric           = "run.googleapis.com/request_count"
      only             = "metric.labels.response_code_class=\"5xx\""
      aligner          = "ALIGN_RATE"
      reducer          = "REDUCE_SUM"
      period           = "300s"
      value            = var.error_rate_threshold
      duration         = "300s"
      comparison       = "COMPARISON_GT"
      of_max_instances = false
    }
    latency_p95 = {
      name             = "p95 latency above ${var.latency_p95_threshold_ms} ms"
      severity         = "ERROR"
      runbook          = "latency"
      summary          = "The 95th percentile request latency of one of ${local.service_names} (the condition names it) stayed above ${var.latency_p95_threshold_ms} ms."
      metric           = "run.googleapis.com/request_latencies"
      only             = null
      aligner          = "ALIGN_DELTA"
      reducer          = "REDUCE_PERCENTILE_95"
      period           = "300s"
      value            = var.latency_p95_threshold_ms
      duration         = "300s"
      comparison       = "COMPARISON_GT"
      of_max_instances = false
    }
    memory = {
      name             = "container memory above ${local.percent.memory}%"
      severity         = "ERROR"
      runbook          = "memory"
      summary          = "Instances of one of ${local.service_names} (the condition names it) use more than ${local.percent.memory}% of their memory limit (99th percentile): out-of-memory restarts are near."
      metric           = "run.googleapis.com/container/memory/utilizations"
      only             = null
      aligner          = "ALIGN_PERCENTILE_99"
      reducer          = "REDUCE_MAX"
      period           = "300s"
      value            = var.memory_utilization_threshold
      duration         = "300s"
      comparison       = "COMPARISON_GT"
      of_max_instances = false
    }
    instances_near_max = {
      name       = "instance count at ${local.percent.instances}% of max instances"
      severity   = "WARNING"
      runbook    = "instances-near-max"
      summary    = "One of ${local.service_names} (the condition names it, with its threshold) runs at least ${local.percent.instances}% of its allowed instances: more load will queue and time out, or Pub/Sub deliveries back up."
      metric     = "run.googleapis.com/container/instance_count"
      only       = null
      aligner    = "ALIGN_MAX"
      reducer    = "REDUCE_SUM"
      period     = "60s"
      value      = var.instance_count_threshold_ratio
      duration   = "300s"
      comparison = "COMPARISON_GE"
      # A share of each service's max instances, rounded up: the threshold differs by service.
      of_max_instances = true
    }
    cold_start = {
      name             = "container startup above ${var.startup_latency_threshold_ms} ms"
      severity         = "WARNING"
      runbook          = "cold-start"
      summary          = "New instances of one of ${local.service_names} (the condition names it) take more than ${var.startup_latency_threshold_ms} ms to start (95th percentile): callers wait on cold starts, and messages wait longer in the subscription."
      metric           = "run.googleapis.com/container/startup_latencies"
      only             = null
      aligner          = "ALIGN_DELTA"
      reducer          = "REDUCE_PERCENTILE_95"
      period           = "600s"
      value            = var.startup_latency_threshold_ms
      duration         = "0s"
      comparison       = "COMPARISON_GT"
      of_max_instances = false
    }
  }

  # Signals of one thing each: the HTTP service's uptime check, the push subscription, and the
  # predictions of both services together. Every entry: display name, severity, runbook page,
  # a one-line meaning, and either a `threshold` (metric condition) or a `promql` query.
  single_signals = {
    service_down = {
      name     = "service down (uptime check on ${var.health_check_path} failing)"
      severity = "CRITICAL"
      runbook  = "service-down"
      summary  = "The uptime check on ${var.health_check_path} of the HTTP service ${var.service_name} fails from more than one region: the service is unreachable or its model is not loaded."
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
    pubsub_backlog = {
      name     = "Pub/Sub oldest unacked message older than ${var.pubsub_oldest_unacked_threshold_seconds} s"
      severity = "ERROR"
      runbook  = "pubsub-backlog"
      summary  = "The push subscription ${local.names.push_subscription} holds a message older than ${var.pubsub_oldest_unacked_threshold_seconds} s: deliveries to ${local.names.events_service} fail or lag."
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
      summary  = "More than ${var.dead_letter_threshold} message(s) failed ${var.pubsub_max_delivery_attempts} deliveries to ${local.names.events_service} within 5 minutes and went to ${local.topic_names.dead_letter}."
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
    variant_fallback = {
      name     = "model variant failed its start-up check (serving a fallback)"
      severity = "WARNING"
      runbook  = "variant-fallback"
      summary  = "An instance of ${local.service_names} passed over a model variant (normally int8) because its start-up check failed on the instance's CPU, and serves the next one (fp32): answers stay right, latency and cost rise. Its variant_check_failed log line names the CPU and the figures."
      promql   = null
      threshold = {
        filter             = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.variant_check_failures.name}\""
        denominator_filter = null
        aligner            = "ALIGN_SUM"
        reducer            = "REDUCE_SUM"
        group_by           = local.by_service
        period             = "300s"
        comparison         = "COMPARISON_GT"
        value              = 0
        duration           = "0s"
      }
    }
    input_drift = {
      name      = "low-confidence share above ${local.percent.low_confidence}% (input drift)"
      severity  = "WARNING"
      runbook   = "input-drift"
      summary   = "Over the last hour more than ${local.percent.low_confidence}% of the predictions of ${local.service_names} together were low-confidence (at least ${var.low_confidence_min_predictions} predictions): inputs no longer look like what the model was trained on."
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

  # Both kinds as one map of policies, each with its list of conditions.
  alerts_all = merge(
    {
      for k, a in local.service_signals : k => {
        name     = a.name
        severity = a.severity
        runbook  = a.runbook
        summary  = a.summary
        conditions = [
          for svc in local.watched_services : {
            name   = a.of_max_instances ? "${svc.name}: ${a.name} (${ceil(svc.max * a.value)} of ${svc.max})" : "${svc.name}: ${a.name}"
            promql = null
            threshold = {
              filter             = join(" AND ", compact([local.cloud_run_filters[svc.name], "metric.type=\"${a.metric}\"", a.only]))
              denominator_filter = a.only == null ? null : "${local.cloud_run_filters[svc.name]} AND metric.type=\"${a.metric}\""
              aligner            = a.aligner
              reducer            = a.reducer
              group_by           = local.by_service
              period             = a.period
              comparison         = a.comparison
              value              = a.of_max_instances ? ceil(svc.max * a.value) : a.value
              duration           = a.duration
            }
          }
        ]
      }
    },
    {
      for k, a in local.single_signals : k => {
        name       = a.name
        severity   = a.severity
        runbook    = a.runbook
        summary    = a.summary
        conditions = [{ name = a.name, promql = a.promql, threshold = a.threshold }]
      }
    },
  )

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

# Calls the HTTP service's /health like a client would, from several regions, with an OIDC
# token of the Monitoring service agent (granted run.invoker in iam.tf): the service stays
# private. The events service has no GET route to call: its signals are the per-service
# conditions, the Pub/Sub backlog and dead letters.
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
      service_name = google_cloud_run_v2_service.function["http"].name
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

  dynamic "conditions" {
    for_each = each.value.conditions
    content {
      display_name = conditions.value.name

      dynamic "condition_threshold" {
        for_each = conditions.value.threshold == null ? [] : [conditions.value.threshold]
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
        for_each = conditions.value.promql == null ? [] : [conditions.value.promql]
        content {
          query               = condition_prometheus_query_language.value
          duration            = "1800s"
          evaluation_interval = "300s"
        }
      }
    }
  }

  alert_strategy {
    auto_close = "3600s"
  }

  depends_on = [google_logging_metric.prediction_counts]
}

# Service level objectives and multi-window burn-rate alerts (the practice of Google's SRE
# workbook, "Alerting on SLOs"): a fast burn pages, a slow burn opens a ticket. Each alert
# fires only when both its long window (the budget really is burning) and its short window
# (it is still burning now) exceed the rate, so it resets soon after the cause is fixed.
#
#   HTTP API      availability  share of requests not answered 5xx
#                 latency       share of requests answered within slo_latency_threshold_ms
#   events        freshness     share of 5-minute windows whose oldest unacknowledged request
#                               message is younger than slo_oldest_unacked_seconds
#
# A burn rate of N spends the error budget N times faster than the rolling period allows:
# 14.4 over 1 h spends 2 % of a 30-day budget in that hour. The threshold alerts in
# monitoring.tf stay: they catch what an SLO does not (memory, instances near max, dead
# letters, input drift, variant fallback).

locals {
  slo_services = {
    http   = { id = "${var.service_name}-http", name = "${var.service_name} HTTP API" }
    events = { id = "${var.service_name}-events", name = "${var.service_name} events" }
  }
  http_requests = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${local.services.http.name}\"",
  ])
  slos = {
    availability = {
      service = "http"
      goal    = var.slo_availability_goal
      summary = "The HTTP API answers without 5xx for ${format("%.4g", var.slo_availability_goal * 100)}% of requests over ${var.slo_rolling_period_days} days."
    }
    latency = {
      service = "http"
      goal    = var.slo_latency_goal
      summary = "${format("%.4g", var.slo_latency_goal * 100)}% of the HTTP API's requests are answered within ${var.slo_latency_threshold_ms} ms over ${var.slo_rolling_period_days} days."
    }
    freshness = {
      service = "events"
      goal    = var.slo_freshness_goal
      summary = "In ${format("%.4g", var.slo_freshness_goal * 100)}% of 5-minute windows over ${var.slo_rolling_period_days} days, the oldest unacknowledged request message is younger than ${var.slo_oldest_unacked_seconds} s."
    }
  }
  # The SLO's full name, known at plan time (select_slo_burn_rate takes it).
  slo_names = {
    for key, slo in local.slos : key => "projects/${var.project_id}/services/${local.slo_services[slo.service].id}/serviceLevelObjectives/${key}"
  }
  burn_windows = {
    fast = merge(var.slo_fast_burn, { severity = "CRITICAL", what = "pages", channels = local.notification_channels })
    slow = merge(var.slo_slow_burn, {
      severity = "WARNING"
      what     = "opens a ticket"
      channels = length(var.slo_ticket_channel_ids) > 0 ? var.slo_ticket_channel_ids : local.notification_channels
    })
  }
  burn_alerts = var.enable_slos ? {
    for pair in setproduct(keys(local.slos), keys(local.burn_windows)) : "${pair[0]}_${pair[1]}" => {
      slo     = pair[0]
      speed   = pair[1]
      window  = local.burn_windows[pair[1]]
      runbook = "slo-burn"
    }
  } : {}
}

resource "google_monitoring_custom_service" "slo" {
  for_each = var.enable_slos ? local.slo_services : {}

  project      = var.project_id
  service_id   = each.value.id
  display_name = each.value.name
  user_labels  = local.labels
}

resource "google_monitoring_slo" "availability" {
  count = var.enable_slos ? 1 : 0

  project             = var.project_id
  service             = google_monitoring_custom_service.slo["http"].service_id
  slo_id              = "availability"
  display_name        = local.slos.availability.summary
  goal                = var.slo_availability_goal
  rolling_period_days = var.slo_rolling_period_days
  user_labels         = local.labels

  request_based_sli {
    good_total_ratio {
      bad_service_filter   = "metric.type=\"run.googleapis.com/request_count\" AND ${local.http_requests} AND metric.labels.response_code_class=\"5xx\""
      total_service_filter = "metric.type=\"run.googleapis.com/request_count\" AND ${local.http_requests}"
    }
  }
}

resource "google_monitoring_slo" "latency" {
  count = var.enable_slos ? 1 : 0

  project             = var.project_id
  service             = google_monitoring_custom_service.slo["http"].service_id
  slo_id              = "latency"
  display_name        = local.slos.latency.summary
  goal                = var.slo_latency_goal
  rolling_period_days = var.slo_rolling_period_days
  user_labels         = local.labels

  request_based_sli {
    distribution_cut {
      distribution_filter = "metric.type=\"run.googleapis.com/request_latencies\" AND ${local.http_requests}"
      range {
        max = var.slo_latency_threshold_ms
      }
    }
  }
}

resource "google_monitoring_slo" "freshness" {
  count = var.enable_slos ? 1 : 0

  project             = var.project_id
  service             = google_monitoring_custom_service.slo["events"].service_id
  slo_id              = "freshness"
  display_name        = local.slos.freshness.summary
  goal                = var.slo_freshness_goal
  rolling_period_days = var.slo_rolling_period_days
  user_labels         = local.labels

  windows_based_sli {
    window_period = "300s"
    metric_mean_in_range {
      time_series = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND ${local.push_sub_filter}"
      range {
        min = 0
        max = var.slo_oldest_unacked_seconds
      }
    }
  }
}

resource "google_monitoring_alert_policy" "burn" {
  for_each = local.burn_alerts

  project               = var.project_id
  display_name          = "${var.service_name}: ${each.value.slo} SLO ${each.value.speed} burn (${each.value.window.rate}x)"
  combiner              = "AND"
  severity              = each.value.window.severity
  notification_channels = each.value.window.channels
  user_labels           = merge(local.labels, { runbook = each.value.runbook, slo = each.value.slo, burn = each.value.speed })

  documentation {
    mime_type = "text/markdown"
    content = join("\n\n", [
      "${local.slos[each.value.slo].summary} Its error budget is burning ${each.value.window.rate}x faster than the period allows, over both ${each.value.window.long_window_seconds / 60} min and ${each.value.window.short_window_seconds / 60} min: this ${each.value.window.what}.",
      var.runbook_base_url == "" ? "Runbook: docs/runbooks/${each.value.runbook}.md in the project repository." : "Runbook: ${var.runbook_base_url}/${each.value.runbook}.md",
    ])
  }

  dynamic "conditions" {
    for_each = {
      long  = each.value.window.long_window_seconds
      short = each.value.window.short_window_seconds
    }
    content {
      display_name = "burn rate over ${conditions.value / 60} min above ${each.value.window.rate}"
      condition_threshold {
        filter          = "select_slo_burn_rate(\"${local.slo_names[each.value.slo]}\", \"${conditions.value}s\")"
        comparison      = "COMPARISON_GT"
        threshold_value = each.value.window.rate
        duration        = "0s"
        trigger {
          count = 1
        }
      }
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }

  depends_on = [google_monitoring_slo.availability, google_monitoring_slo.latency, google_monitoring_slo.freshness]

  lifecycle {
    precondition {
      condition     = each.value.window.rate * (1 - local.slos[each.value.slo].goal) < 1
      error_message = "A burn rate of ${each.value.window.rate} can never be reached with the ${each.value.slo} goal ${local.slos[each.value.slo].goal}: the rate times the error budget (1 - goal) must stay below 1."
    }
  }
}

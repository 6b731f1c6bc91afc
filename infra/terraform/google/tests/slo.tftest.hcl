# SLOs with multi-window burn-rate alerts (slo.tf) and the on-call dashboard (dashboard.tf).

mock_provider "google" {
  source = "./tests/mocks"
}

variables {
  notification_emails = ["oncall@example.org"]
}

run "slos_and_burn_rate_alerts" {
  command = plan

  assert {
    condition     = google_monitoring_slo.availability[0].goal == 0.995 && google_monitoring_slo.latency[0].goal == 0.99 && google_monitoring_slo.freshness[0].goal == 0.99
    error_message = "The SLO goals are the variables' defaults."
  }
  assert {
    condition     = alltrue([for s in [google_monitoring_slo.availability[0], google_monitoring_slo.latency[0], google_monitoring_slo.freshness[0]] : s.rolling_period_days == 28])
    error_message = "Every SLO is measured over the rolling period."
  }
  assert {
    condition     = strcontains(google_monitoring_slo.availability[0].request_based_sli[0].good_total_ratio[0].bad_service_filter, "response_code_class=\"5xx\"") && strcontains(google_monitoring_slo.availability[0].request_based_sli[0].good_total_ratio[0].total_service_filter, "service_name=\"clinical-assertion\"")
    error_message = "Availability counts 5xx answers of the HTTP service among all its requests."
  }
  assert {
    condition     = google_monitoring_slo.latency[0].request_based_sli[0].distribution_cut[0].range[0].max == 3000
    error_message = "Latency: requests within slo_latency_threshold_ms."
  }
  assert {
    condition     = google_monitoring_slo.freshness[0].windows_based_sli[0].metric_mean_in_range[0].range[0].max == 300 && strcontains(google_monitoring_slo.freshness[0].windows_based_sli[0].metric_mean_in_range[0].time_series, "oldest_unacked_message_age")
    error_message = "The events service's SLO is on the age of the oldest unacknowledged message."
  }
  assert {
    condition     = toset(keys(google_monitoring_alert_policy.burn)) == toset(["availability_fast", "availability_slow", "latency_fast", "latency_slow", "freshness_fast", "freshness_slow"])
    error_message = "A fast and a slow burn alert per SLO."
  }
  assert {
    condition = alltrue([for k, p in google_monitoring_alert_policy.burn : p.combiner == "AND" && [for c in p.conditions : c.condition_threshold[0].filter] == [
      "select_slo_burn_rate(\"projects/acme-clinical-nlp/services/clinical-assertion-${startswith(k, "freshness") ? "events" : "http"}/serviceLevelObjectives/${split("_", k)[0]}\", \"${endswith(k, "fast") ? 3600 : 21600}s\")",
      "select_slo_burn_rate(\"projects/acme-clinical-nlp/services/clinical-assertion-${startswith(k, "freshness") ? "events" : "http"}/serviceLevelObjectives/${split("_", k)[0]}\", \"${endswith(k, "fast") ? 300 : 1800}s\")",
    ]])
    error_message = "Each burn alert needs both windows (long AND short) over its own SLO: 1 h and 5 min fast, 6 h and 30 min slow."
  }
  assert {
    condition     = alltrue([for k, p in google_monitoring_alert_policy.burn : alltrue([for c in p.conditions : c.condition_threshold[0].threshold_value == (endswith(k, "fast") ? 14.4 : 6)])])
    error_message = "Fast burn at 14.4x, slow burn at 6x."
  }
  assert {
    condition     = alltrue([for k, p in google_monitoring_alert_policy.burn : p.severity == (endswith(k, "fast") ? "CRITICAL" : "WARNING") && p.user_labels.runbook == "slo-burn" && strcontains(p.documentation[0].content, "slo-burn.md")])
    error_message = "Fast burn pages (CRITICAL), slow burn is a ticket (WARNING); both name the runbook."
  }
}

run "slow_burn_goes_to_the_ticket_channels" {
  command = plan
  variables {
    slo_ticket_channel_ids = ["projects/acme-clinical-nlp/notificationChannels/ticket"]
  }
  assert {
    condition     = length(google_monitoring_alert_policy.burn["latency_slow"].notification_channels) == 1 && google_monitoring_alert_policy.burn["latency_slow"].notification_channels[0] == "projects/acme-clinical-nlp/notificationChannels/ticket" && length(google_monitoring_alert_policy.burn["latency_fast"].notification_channels) == 1
    error_message = "Slow burns open tickets; fast burns page the usual channels."
  }
}

run "slos_can_be_left_out" {
  command = plan
  variables {
    enable_slos = false
  }
  assert {
    condition     = length(google_monitoring_slo.availability) == 0 && length(google_monitoring_alert_policy.burn) == 0 && length(google_monitoring_custom_service.slo) == 0
    error_message = "enable_slos = false creates no SLO and no burn alert."
  }
  assert {
    condition     = length(google_monitoring_alert_policy.signal) == 10
    error_message = "The threshold alerts stay without SLOs."
  }
}

run "unreachable_burn_rate_is_refused" {
  command = plan
  variables {
    slo_availability_goal = 0.9
    slo_fast_burn         = { rate = 12, long_window_seconds = 3600, short_window_seconds = 300 }
  }
  expect_failures = [google_monitoring_alert_policy.burn]
}

run "dashboard_reads_only_metrics_that_exist" {
  command = plan

  assert {
    condition     = length(jsondecode(google_monitoring_dashboard.on_call.dashboard_json).mosaicLayout.tiles) == 14
    error_message = "The dashboard JSON parses and holds every chart (13, and SLO burn)."
  }
  assert {
    condition = alltrue([for m in output.dashboard_metric_types : startswith(m, "run.googleapis.com/") || startswith(m, "pubsub.googleapis.com/") || contains(concat(
      [for metric in google_logging_metric.prediction_counts : "logging.googleapis.com/user/${metric.name}"],
      ["logging.googleapis.com/user/${google_logging_metric.queue_depth.name}"],
    ), m)])
    error_message = "Every chart reads a Cloud Run or Pub/Sub metric, or a log-based metric this module creates."
  }
  assert {
    condition = length(setsubtract(toset([
      "Requests per second by service and response class", "5xx share by service", "Request latency p50 / p95 / p99 (ms)",
      "Instances by service and state", "Cold starts: container startup latency p50 / p95 (ms)", "CPU utilization p95",
      "Memory utilization p95", "Inference queue: inputs waiting when a request joined, p50 / p99 (HTTP)",
      "Pub/Sub backlog: undelivered request messages", "Oldest unacknowledged request message (s)",
      "Messages dead-lettered per second", "Label mix: predictions per second by label", "Low-confidence share of predictions",
    ]), [for t in jsondecode(google_monitoring_dashboard.on_call.dashboard_json).mosaicLayout.tiles : t.widget.title])) == 0
    error_message = "On-call's charts are all there."
  }
  assert {
    condition     = length([for t in jsondecode(google_monitoring_dashboard.on_call.dashboard_json).mosaicLayout.tiles : t if strcontains(jsonencode(t), "select_slo_burn_rate")]) == 1
    error_message = "One chart shows the SLOs' burn rates."
  }
}

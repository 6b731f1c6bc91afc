# On-call: one alert policy per signal, each pointing to its runbook, with one condition per
# service for the signals both Cloud Run services have; log-based metrics built from both
# services' JSON log lines.

mock_provider "google" {
  source = "./tests/mocks"
}

variables {
  notification_emails = ["oncall@example.org", "ml-team@example.org"]
}

run "one_policy_per_signal" {
  command = plan

  assert {
    condition = toset(keys(google_monitoring_alert_policy.signal)) == toset([
      "error_rate",         # 5xx ratio
      "latency_p95",        # p95 request latency
      "service_down",       # uptime check on /health failing
      "memory",             # container memory utilization
      "instances_near_max", # instance count near the maximum
      "cold_start",         # container startup latency
      "pubsub_backlog",     # oldest unacked message age
      "dead_letter",        # dead-lettered messages
      "input_drift",        # share of low-confidence predictions
      "variant_fallback",   # a variant failed its start-up check on an instance's CPU
    ])
    error_message = "Exactly one alert policy per listed signal."
  }
  assert {
    condition = {
      for k, p in google_monitoring_alert_policy.signal : k => [for c in p.conditions : c.display_name]
      } == {
      error_rate         = ["clinical-assertion: 5xx ratio above 5%", "clinical-assertion-events: 5xx ratio above 5%"]
      latency_p95        = ["clinical-assertion: p95 latency above 3000 ms", "clinical-assertion-events: p95 latency above 3000 ms"]
      memory             = ["clinical-assertion: container memory above 85%", "clinical-assertion-events: container memory above 85%"]
      instances_near_max = ["clinical-assertion: instance count at 80% of max instances (8 of 10)", "clinical-assertion-events: instance count at 80% of max instances (4 of 5)"]
      cold_start         = ["clinical-assertion: container startup above 20000 ms", "clinical-assertion-events: container startup above 20000 ms"]
      service_down       = ["service down (uptime check on /health failing)"]
      pubsub_backlog     = ["Pub/Sub oldest unacked message older than 600 s"]
      dead_letter        = ["Pub/Sub messages dead-lettered"]
      input_drift        = ["low-confidence share above 30% (input drift)"]
      variant_fallback   = ["model variant failed its start-up check (serving a fallback)"]
    }
    error_message = "Each policy watches one signal: the Cloud Run signals with one condition per service, named after it (HTTP first); the others with one condition."
  }
  assert {
    condition = alltrue(flatten([
      for k in ["error_rate", "latency_p95", "memory", "instances_near_max", "cold_start"] : [
        strcontains(google_monitoring_alert_policy.signal[k].conditions[0].condition_threshold[0].filter, "resource.labels.service_name=\"clinical-assertion\" AND"),
        strcontains(google_monitoring_alert_policy.signal[k].conditions[1].condition_threshold[0].filter, "resource.labels.service_name=\"clinical-assertion-events\" AND"),
      ]
    ]))
    error_message = "Each per-service condition watches its own service's revisions."
  }
}

run "every_policy_names_its_runbook" {
  command = plan

  assert {
    condition = alltrue([
      for k, p in google_monitoring_alert_policy.signal :
      length(p.documentation) == 1 && strcontains(p.documentation[0].content, "Runbook: docs/runbooks/${p.user_labels.runbook}.md")
    ])
    error_message = "Every policy's documentation names its runbook page."
  }
  assert {
    condition = {
      for k, p in google_monitoring_alert_policy.signal : k => p.user_labels.runbook
      } == {
      error_rate         = "error-rate"
      latency_p95        = "latency"
      service_down       = "service-down"
      memory             = "memory"
      instances_near_max = "instances-near-max"
      cold_start         = "cold-start"
      pubsub_backlog     = "pubsub-backlog"
      dead_letter        = "dead-letter"
      input_drift        = "input-drift"
      variant_fallback   = "variant-fallback"
    }
    error_message = "Runbook pages are the ones in docs/runbooks/."
  }
}

run "runbook_links_when_base_url_given" {
  command = plan

  variables {
    runbook_base_url = "https://github.com/acme/clinical-assertion/blob/main/docs/runbooks"
  }

  assert {
    condition     = strcontains(google_monitoring_alert_policy.signal["dead_letter"].documentation[0].content, "Runbook: https://github.com/acme/clinical-assertion/blob/main/docs/runbooks/dead-letter.md")
    error_message = "With runbook_base_url, documentation links to the runbook."
  }
}

run "notifications_and_thresholds" {
  command = apply

  assert {
    condition     = alltrue([for p in google_monitoring_alert_policy.signal : length(p.notification_channels) == 2])
    error_message = "Every policy notifies every e-mail channel."
  }
  assert {
    condition     = google_monitoring_alert_policy.signal["error_rate"].conditions[0].condition_threshold[0].threshold_value == 0.05 && strcontains(google_monitoring_alert_policy.signal["error_rate"].conditions[0].condition_threshold[0].filter, "response_code_class=\"5xx\"") && google_monitoring_alert_policy.signal["error_rate"].conditions[0].condition_threshold[0].denominator_filter != null
    error_message = "The error-rate policy is a 5xx / all requests ratio against error_rate_threshold."
  }
  assert {
    condition     = google_monitoring_alert_policy.signal["latency_p95"].conditions[0].condition_threshold[0].aggregations[0].cross_series_reducer == "REDUCE_PERCENTILE_95" && google_monitoring_alert_policy.signal["latency_p95"].conditions[0].condition_threshold[0].threshold_value == 3000
    error_message = "The latency policy watches p95 against latency_p95_threshold_ms."
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.signal["service_down"].conditions[0].condition_threshold[0].filter, google_monitoring_uptime_check_config.health[0].uptime_check_id)
    error_message = "The service-down policy watches this module's uptime check."
  }
  assert {
    condition     = google_monitoring_uptime_check_config.health[0].http_check[0].path == "/health" && google_monitoring_uptime_check_config.health[0].http_check[0].service_agent_authentication[0].type == "OIDC_TOKEN"
    error_message = "The uptime check calls /health with an OIDC token."
  }
  assert {
    condition     = google_monitoring_alert_policy.signal["instances_near_max"].conditions[0].condition_threshold[0].threshold_value == 8 && google_monitoring_alert_policy.signal["instances_near_max"].conditions[1].condition_threshold[0].threshold_value == 4
    error_message = "Instances near max: 80% of the HTTP service's 10 instances is 8, of the events service's 5 is 4."
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.signal["error_rate"].conditions[1].condition_threshold[0].filter, "service_name=\"clinical-assertion-events\"") && strcontains(google_monitoring_alert_policy.signal["error_rate"].conditions[1].condition_threshold[0].denominator_filter, "service_name=\"clinical-assertion-events\"") && google_monitoring_alert_policy.signal["error_rate"].conditions[1].condition_threshold[0].threshold_value == 0.05
    error_message = "The events service's 5xx ratio is its own 5xx over its own requests."
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.signal["error_rate"].documentation[0].content, "`outcome`=\"retry\"")
    error_message = "The error-rate policy says that the events service answers 500 on purpose and where the reasons are."
  }
  assert {
    condition     = google_monitoring_uptime_check_config.health[0].monitored_resource[0].labels.service_name == "clinical-assertion"
    error_message = "The uptime check watches the HTTP service (the events service has no GET route)."
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.signal["pubsub_backlog"].conditions[0].condition_threshold[0].filter, "subscription_id=\"clinical-assertion-push\"") && strcontains(google_monitoring_alert_policy.signal["dead_letter"].conditions[0].condition_threshold[0].filter, "dead_letter_message_count")
    error_message = "The Pub/Sub policies watch the push subscription."
  }
}

run "input_drift_from_log_metrics" {
  command = plan

  assert {
    condition     = strcontains(google_monitoring_alert_policy.signal["input_drift"].conditions[0].condition_prometheus_query_language[0].query, "logging_googleapis_com:user_clinical_assertion_low_confidence_predictions_sum") && strcontains(google_monitoring_alert_policy.signal["input_drift"].conditions[0].condition_prometheus_query_language[0].query, "> 0.3")
    error_message = "The drift policy compares the low-confidence share of predictions with low_confidence_share_threshold."
  }
  assert {
    condition     = toset(keys(google_logging_metric.prediction_counts)) == toset(["predictions_present", "predictions_absent", "predictions_possible", "predicted_items", "low_confidence_predictions"])
    error_message = "Log-based metrics count predictions by label, items, and low-confidence predictions."
  }
  assert {
    condition     = alltrue([for m in google_logging_metric.prediction_counts : strcontains(m.filter, "resource.type=\"cloud_run_revision\"") && strcontains(m.filter, "resource.labels.service_name=(\"clinical-assertion\" OR \"clinical-assertion-events\")")])
    error_message = "Log-based metrics read the Cloud Run logs of both services, and only theirs."
  }
  assert {
    condition     = alltrue([for m in google_logging_metric.prediction_counts : strcontains(m.filter, "jsonPayload.event=(\"request\" OR \"message\")")])
    error_message = "Log-based metrics count the HTTP service's request lines and the events service's message lines."
  }
  assert {
    condition     = google_logging_metric.prediction_counts["predictions_absent"].value_extractor == "EXTRACT(jsonPayload.label_counts.ABSENT)"
    error_message = "Label counts are extracted from label_counts."
  }
  assert {
    condition     = alltrue([for m in google_logging_metric.prediction_counts : m.label_extractors == null && length(m.metric_descriptor[0].labels) == 0])
    error_message = "No log-based metric has labels: nothing from a request can reach a metric."
  }
}

run "variant_fallback_counts_the_check_failure_lines" {
  command = plan

  assert {
    condition     = google_logging_metric.variant_check_failures.name == "clinical_assertion_variant_check_failures" && strcontains(google_logging_metric.variant_check_failures.filter, "jsonPayload.event=\"variant_check_failed\"") && strcontains(google_logging_metric.variant_check_failures.filter, "resource.labels.service_name=(\"clinical-assertion\" OR \"clinical-assertion-events\")")
    error_message = "The fallback metric counts the variant_check_failed lines of both services, and only those."
  }
  assert {
    condition     = google_logging_metric.variant_check_failures.label_extractors == null && google_logging_metric.variant_check_failures.metric_descriptor[0].value_type == "INT64"
    error_message = "A plain count, without labels."
  }
  assert {
    condition = (
      strcontains(google_monitoring_alert_policy.signal["variant_fallback"].conditions[0].condition_threshold[0].filter, "metric.type=\"logging.googleapis.com/user/clinical_assertion_variant_check_failures\"")
      && google_monitoring_alert_policy.signal["variant_fallback"].conditions[0].condition_threshold[0].threshold_value == 0
      && google_monitoring_alert_policy.signal["variant_fallback"].severity == "WARNING"
    )
    error_message = "One failed start-up check warns on-call."
  }
}

run "uptime_check_can_be_turned_off" {
  command = plan

  variables {
    enable_uptime_check = false
    ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  }

  assert {
    condition     = length(google_monitoring_uptime_check_config.health) == 0 && !contains(keys(google_monitoring_alert_policy.signal), "service_down") && !contains(keys(google_cloud_run_v2_service_iam_member.invokers), "uptime-check")
    error_message = "Without the uptime check there is no service-down policy and no grant to the Monitoring agent."
  }
}

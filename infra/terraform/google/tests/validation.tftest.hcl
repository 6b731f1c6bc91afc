# Wrong values are refused at plan time with a message that says what to set.

mock_provider "google" {
  source = "./tests/mocks"
}

run "rejects_image_without_tag_or_digest" {
  command = plan
  variables {
    image = "clinical-assertion"
  }
  expect_failures = [var.image]
}

run "rejects_bad_ingress" {
  command = plan
  variables {
    ingress = "all"
  }
  expect_failures = [var.ingress]
}

run "rejects_allUsers_as_invoker_member" {
  command = plan
  variables {
    invoker_members = ["allUsers"]
  }
  expect_failures = [var.invoker_members]
}

run "rejects_connector_range_that_is_not_a_28" {
  command = plan
  variables {
    vpc_connector_ip_cidr_range = "10.8.0.0/24"
  }
  expect_failures = [var.vpc_connector_ip_cidr_range]
}

run "rejects_zero_concurrency" {
  command = plan
  variables {
    concurrency = 0
  }
  expect_failures = [var.concurrency]
}

run "rejects_fractional_cpu" {
  command = plan
  variables {
    cpu = "0.5"
  }
  expect_failures = [var.cpu]
}

run "rejects_error_rate_as_percent" {
  command = plan
  variables {
    error_rate_threshold = 5
  }
  expect_failures = [var.error_rate_threshold]
}

run "rejects_bad_email" {
  command = plan
  variables {
    notification_emails = ["oncall"]
  }
  expect_failures = [var.notification_emails]
}

run "rejects_api_keys_in_plain_env" {
  command = plan
  variables {
    extra_env = { API_KEYS = "hunter2" }
  }
  expect_failures = [var.extra_env]
}

run "rejects_too_few_delivery_attempts" {
  command = plan
  variables {
    pubsub_max_delivery_attempts = 1
  }
  expect_failures = [var.pubsub_max_delivery_attempts]
}

run "rejects_startup_probe_beyond_240s" {
  command = plan
  variables {
    startup_probe = { period_seconds = 10, failure_threshold = 30 }
  }
  expect_failures = [var.startup_probe]
}

run "rejects_min_above_max_instances" {
  command = plan
  variables {
    min_instances = 5
    max_instances = 2
  }
  expect_failures = [google_cloud_run_v2_service.function]
}

run "rejects_events_min_above_max_instances" {
  command = plan
  variables {
    events_min_instances = 3
    events_max_instances = 2
  }
  expect_failures = [google_cloud_run_v2_service.function]
}

run "rejects_fractional_events_cpu" {
  command = plan
  variables {
    events_cpu = "0.5"
  }
  expect_failures = [var.events_cpu]
}

run "rejects_service_name_too_long_for_the_events_service" {
  command = plan
  variables {
    # 43 characters: with "-events" the events service's name would pass Cloud Run's 49.
    service_name = "clinical-assertion-for-the-cardiology-wards"
  }
  expect_failures = [var.service_name]
}

run "rejects_function_target_in_extra_env" {
  command = plan
  variables {
    extra_env = { FUNCTION_TARGET = "predict_http" }
  }
  expect_failures = [var.extra_env]
}

run "rejects_ack_deadline_below_request_timeout" {
  command = plan
  variables {
    request_timeout_seconds     = 120
    pubsub_ack_deadline_seconds = 60
  }
  expect_failures = [google_pubsub_subscription.push]
}

run "rejects_uptime_check_on_internal_service" {
  command = plan
  variables {
    ingress = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  }
  expect_failures = [google_monitoring_uptime_check_config.health]
}

run "warns_when_alerts_reach_nobody" {
  command = plan
  variables {
    notification_emails = []
  }
  expect_failures = [check.alerts_reach_someone]
}

# --- SLOs (slo.tf) -------------------------------------------------------------------------

run "rejects_an_slo_goal_of_one" {
  command = plan
  variables {
    slo_availability_goal = 1
  }
  expect_failures = [var.slo_availability_goal]
}

run "rejects_a_latency_goal_below_ninety_percent" {
  command = plan
  variables {
    slo_latency_goal = 0.5
  }
  expect_failures = [var.slo_latency_goal]
}

run "rejects_a_rolling_period_past_thirty_days" {
  command = plan
  variables {
    slo_rolling_period_days = 31
  }
  expect_failures = [var.slo_rolling_period_days]
}

run "rejects_a_burn_rate_of_one_or_less" {
  command = plan
  variables {
    slo_fast_burn = { rate = 1, long_window_seconds = 3600, short_window_seconds = 300 }
  }
  expect_failures = [var.slo_fast_burn]
}

run "rejects_a_short_window_longer_than_the_long_one" {
  command = plan
  variables {
    slo_slow_burn = { rate = 6, long_window_seconds = 1800, short_window_seconds = 21600 }
  }
  expect_failures = [var.slo_slow_burn]
}

run "rejects_a_freshness_bound_under_ten_seconds" {
  command = plan
  variables {
    slo_oldest_unacked_seconds = 5
  }
  expect_failures = [var.slo_oldest_unacked_seconds]
}

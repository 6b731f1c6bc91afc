# Every variable validation refuses what it should, at plan time, before any resource.

mock_provider "aws" {
  source = "./tests/mocks"
}

run "defaults_plan" {
  command = plan
}

run "region_not_a_zone" {
  command = plan
  variables { region = "eu-west-1a" }
  expect_failures = [var.region]
}

run "name_shape" {
  command = plan
  variables { name = "Clinical_Assertion" }
  expect_failures = [var.name]
}

run "image_tag_shape" {
  command = plan
  variables { image_tag = "-bad" }
  expect_failures = [var.image_tag]
}

run "ecr_keeps_enough_to_roll_back" {
  command = plan
  variables { ecr_keep_images = 2 }
  expect_failures = [var.ecr_keep_images]
}

run "memory_too_small_for_the_model" {
  command = plan
  variables { memory_mb = 512 }
  expect_failures = [var.memory_mb]
}

run "memory_above_lambda_max" {
  command = plan
  variables { memory_mb = 10241 }
  expect_failures = [var.memory_mb]
}

run "timeout_above_lambda_max" {
  command = plan
  variables {
    timeout_seconds                  = 901
    queue_visibility_timeout_seconds = 43200
  }
  expect_failures = [var.timeout_seconds]
}

run "ephemeral_storage_bounds" {
  command = plan
  variables { ephemeral_storage_mb = 100 }
  expect_failures = [var.ephemeral_storage_mb]
}

run "architecture_choice" {
  command = plan
  variables { architecture = "arm" }
  expect_failures = [var.architecture]
}

run "reserved_concurrency_zero_is_refused" {
  command = plan
  variables { reserved_concurrency = 0 }
  expect_failures = [var.reserved_concurrency]
}

run "provisioned_above_reserved" {
  command = plan
  variables {
    reserved_concurrency    = 5
    provisioned_concurrency = 6
    max_concurrency         = 5
  }
  expect_failures = [var.provisioned_concurrency]
}

run "tracing_mode_choice" {
  command = plan
  variables { tracing_mode = "On" }
  expect_failures = [var.tracing_mode]
}

run "precision_choice" {
  command = plan
  variables { precision = "int4" }
  expect_failures = [var.precision]
}

run "log_level_choice" {
  command = plan
  variables { log_level = "TRACE" }
  expect_failures = [var.log_level]
}

run "low_confidence_threshold_bounds" {
  command = plan
  variables { low_confidence_threshold = 1.2 }
  expect_failures = [var.low_confidence_threshold]
}

run "api_keys_never_in_extra_env" {
  command = plan
  variables { extra_env = { API_KEYS = "a-key-that-would-land-in-state" } }
  expect_failures = [var.extra_env]
}

run "extra_env_reserved_prefixes" {
  command = plan
  variables { extra_env = { AWS_REGION = "us-east-1" } }
  expect_failures = [var.extra_env]
}

run "url_auth_choice" {
  command = plan
  variables { function_url_auth_type = "PUBLIC" }
  expect_failures = [var.function_url_auth_type]
}

run "no_public_url_without_keys" {
  command = plan
  variables {
    function_url_auth_type = "NONE"
    create_api_key_secret  = false
  }
  expect_failures = [var.function_url_auth_type]
}

run "public_url_with_an_existing_key_secret" {
  command = plan
  variables {
    function_url_auth_type = "NONE"
    create_api_key_secret  = false
    api_key_secret_arn     = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:keys-AbCdEf"
  }
}

run "invokers_are_iam_arns_not_wildcards" {
  command = plan
  variables { function_url_invokers = ["*"] }
  expect_failures = [var.function_url_invokers]
}

run "key_secret_is_an_arn" {
  command = plan
  variables {
    create_api_key_secret = false
    api_key_secret_arn    = "clinical-assertion-api-keys"
  }
  expect_failures = [var.api_key_secret_arn]
}

run "one_key_secret_only" {
  command = plan
  variables {
    api_key_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:keys-AbCdEf"
  }
  expect_failures = [var.api_key_secret_arn]
}

run "kms_key_is_a_key_arn" {
  command = plan
  variables { kms_key_arn = "alias/aws/sqs" }
  expect_failures = [var.kms_key_arn]
}

run "visibility_at_least_six_timeouts" {
  command = plan
  variables {
    timeout_seconds                  = 60
    queue_visibility_timeout_seconds = 359
  }
  expect_failures = [var.queue_visibility_timeout_seconds]
}

run "visibility_of_exactly_six_timeouts" {
  command = plan
  variables {
    timeout_seconds                  = 60
    queue_visibility_timeout_seconds = 360
  }
}

run "max_receive_count_bounds" {
  command = plan
  variables { max_receive_count = 0 }
  expect_failures = [var.max_receive_count]
}

run "message_retention_bounds" {
  command = plan
  variables { message_retention_seconds = 1209601 }
  expect_failures = [var.message_retention_seconds]
}

run "batch_size_bounds" {
  command = plan
  variables { batch_size = 0 }
  expect_failures = [var.batch_size]
}

run "large_batches_need_a_window" {
  command = plan
  variables { batch_size = 100 }
  expect_failures = [var.batch_size]
}

run "batching_window_bounds" {
  command = plan
  variables { batching_window_seconds = 301 }
  expect_failures = [var.batching_window_seconds]
}

run "max_concurrency_bounds" {
  command = plan
  variables { max_concurrency = 1 }
  expect_failures = [var.max_concurrency]
}

run "max_concurrency_within_reserved" {
  command = plan
  variables { max_concurrency = 21 }
  expect_failures = [var.max_concurrency]
}

run "subnets_are_subnet_ids" {
  command = plan
  variables {
    vpc_subnet_ids = ["10.0.0.0/24"]
    vpc_id         = "vpc-0123456789abcdef0"
  }
  expect_failures = [var.vpc_subnet_ids]
}

run "vpc_id_with_subnets" {
  command = plan
  variables { vpc_subnet_ids = ["subnet-0123456789abcdef0"] }
  expect_failures = [var.vpc_id]
}

run "log_retention_values" {
  command = plan
  variables { log_retention_days = 42 }
  expect_failures = [var.log_retention_days]
}

run "alarm_emails_are_addresses" {
  command = plan
  variables { alarm_emails = ["oncall"] }
  expect_failures = [var.alarm_emails]
}

run "runbook_url_https_no_trailing_slash" {
  command = plan
  variables { runbook_base_url = "http://example.org/runbooks/" }
  expect_failures = [var.runbook_base_url]
}

run "error_rate_threshold_bounds" {
  command = plan
  variables { error_rate_threshold = 0 }
  expect_failures = [var.error_rate_threshold]
}

run "duration_alarm_fraction_bounds" {
  command = plan
  variables { duration_alarm_fraction = 1.5 }
  expect_failures = [var.duration_alarm_fraction]
}

run "concurrency_alarm_fraction_bounds" {
  command = plan
  variables { concurrency_alarm_fraction = 0 }
  expect_failures = [var.concurrency_alarm_fraction]
}

run "cold_start_threshold_bounds" {
  command = plan
  variables { cold_start_threshold_ms = 100 }
  expect_failures = [var.cold_start_threshold_ms]
}

run "oldest_message_age_bounds" {
  command = plan
  variables { oldest_message_age_seconds = 10 }
  expect_failures = [var.oldest_message_age_seconds]
}

run "low_confidence_share_bounds" {
  command = plan
  variables { low_confidence_share_threshold = 1 }
  expect_failures = [var.low_confidence_share_threshold]
}

run "deployer_is_a_unique_id" {
  command = plan
  variables { deployer_google_service_account_id = "assertion-build@acme.iam.gserviceaccount.com" }
  expect_failures = [var.deployer_google_service_account_id]
}

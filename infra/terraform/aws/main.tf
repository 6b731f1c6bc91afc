# Names, the function's environment, and the values several files share. The resources live
# in the files named after what they are: ecr.tf, lambda.tf, sqs.tf, secrets.tf, iam.tf,
# network.tf, logs.tf, alarms.tf, dashboard.tf, delivery.tf.

locals {
  names = {
    function      = var.name
    alias         = "live"
    repository    = var.name
    requests      = "${var.name}-requests"
    dead_letter   = "${var.name}-requests-dead-letter"
    results       = "${var.name}-results"
    errors        = "${var.name}-errors"
    secret        = "${var.name}-api-keys"
    role          = "${var.name}-execution"
    deployer_role = "${var.name}-deployer"
    log_group     = "/aws/lambda/${var.name}"
    alarm_topic   = "${var.name}-alarms"
    namespace     = "ClinicalAssertion/${var.name}"
  }

  kms_enabled = var.kms_key_arn != ""
  vpc_enabled = length(var.vpc_subnet_ids) > 0

  # The secret the function reads its API keys from: the one created here, an existing one,
  # or none.
  api_key_secret_arn = var.create_api_key_secret ? aws_secretsmanager_secret.api_keys[0].arn : var.api_key_secret_arn
  api_keys_enabled   = var.create_api_key_secret || var.api_key_secret_arn != ""

  # Lambda gives one vCPU per 1769 MB (up to 6): ONNX Runtime uses them all, no more.
  vcpus = max(1, min(6, floor(var.memory_mb / 1769)))

  environment = merge(
    var.extra_env,
    {
      MODEL_DIR                = "/app/model" # where the Dockerfile bakes the model (its own MODEL_DIR)
      PRECISION                = var.precision
      LOG_LEVEL                = var.log_level
      LOW_CONFIDENCE_THRESHOLD = tostring(var.low_confidence_threshold)
      INTRA_OP_THREADS         = tostring(local.vcpus)
      RESULTS_QUEUE_URL        = aws_sqs_queue.results.url
      ERRORS_QUEUE_URL         = aws_sqs_queue.errors.url
    },
    local.api_keys_enabled ? { API_KEY_SECRET = local.api_key_secret_arn } : {},
  )

  runbook_url = {
    for page in ["error-rate", "throttles", "latency", "instances-near-max", "cold-start", "dead-letter",
    "sqs-backlog", "publish-failures", "input-drift", "variant-fallback"] :
    page => var.runbook_base_url == "" ? "docs/runbooks/${page}.md in the project repository" : "${var.runbook_base_url}/${page}.md"
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

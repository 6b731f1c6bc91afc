# Events: callers send one message per request to <name>-requests; the function sends each
# result to <name>-results and each message that can never succeed, whole, to <name>-errors.
# A message that failed max_receive_count deliveries (retries only: model not ready, queue
# full, a send failed) moves to <name>-requests-dead-letter. Every queue is encrypted at rest:
# SQS-managed keys, or var.kms_key_arn.

locals {
  queue_encryption = {
    sqs_managed_sse_enabled           = local.kms_enabled ? null : true
    kms_master_key_id                 = local.kms_enabled ? var.kms_key_arn : null
    kms_data_key_reuse_period_seconds = local.kms_enabled ? 300 : null
  }
}

resource "aws_sqs_queue" "dead_letter" {
  name                              = local.names.dead_letter
  message_retention_seconds         = 1209600
  sqs_managed_sse_enabled           = local.queue_encryption.sqs_managed_sse_enabled
  kms_master_key_id                 = local.queue_encryption.kms_master_key_id
  kms_data_key_reuse_period_seconds = local.queue_encryption.kms_data_key_reuse_period_seconds
}

resource "aws_sqs_queue" "requests" {
  name                              = local.names.requests
  visibility_timeout_seconds        = var.queue_visibility_timeout_seconds
  message_retention_seconds         = var.message_retention_seconds
  receive_wait_time_seconds         = 20
  sqs_managed_sse_enabled           = local.queue_encryption.sqs_managed_sse_enabled
  kms_master_key_id                 = local.queue_encryption.kms_master_key_id
  kms_data_key_reuse_period_seconds = local.queue_encryption.kms_data_key_reuse_period_seconds

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = var.max_receive_count
  })
}

# Only the requests queue may send its messages to the dead-letter queue.
resource "aws_sqs_queue_redrive_allow_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.requests.arn]
  })
}

resource "aws_sqs_queue" "results" {
  name                              = local.names.results
  message_retention_seconds         = var.message_retention_seconds
  sqs_managed_sse_enabled           = local.queue_encryption.sqs_managed_sse_enabled
  kms_master_key_id                 = local.queue_encryption.kms_master_key_id
  kms_data_key_reuse_period_seconds = local.queue_encryption.kms_data_key_reuse_period_seconds
}

resource "aws_sqs_queue" "errors" {
  name                              = local.names.errors
  message_retention_seconds         = var.message_retention_seconds
  sqs_managed_sse_enabled           = local.queue_encryption.sqs_managed_sse_enabled
  kms_master_key_id                 = local.queue_encryption.kms_master_key_id
  kms_data_key_reuse_period_seconds = local.queue_encryption.kms_data_key_reuse_period_seconds
}

# The alias takes the requests queue in batches; records that may pass on retry come back in
# batchItemFailures (ReportBatchItemFailures), the rest are deleted.
resource "aws_lambda_event_source_mapping" "requests" {
  event_source_arn                   = aws_sqs_queue.requests.arn
  function_name                      = aws_lambda_alias.live.arn
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]
  enabled                            = true

  scaling_config {
    maximum_concurrency = var.max_concurrency
  }

  depends_on = [aws_iam_role_policy.execution]
}

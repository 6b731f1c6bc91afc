# What pages on-call: one CloudWatch alarm per failure signal, each naming its runbook
# (docs/runbooks/) in its description, all sending to one SNS topic.

locals {
  lambda_alias_dimensions = { FunctionName = local.names.function, Resource = "${local.names.function}:${local.names.alias}" }

  # Each alarm: its queries (metric math where a rate is watched), the returned query's
  # threshold and comparison, and its runbook page.
  alarms = merge(
    {
      errors = {
        description = "Invocations of the alias live ending in an error (an unhandled exception, a timeout, an SQS batch that failed whole) above ${var.error_rate_threshold * 100} % over 5 minutes."
        runbook     = "error-rate"
        threshold   = var.error_rate_threshold
        comparison  = "GreaterThanThreshold"
        periods     = 1
        queries = [
          { id = "errors", metric = "Errors", namespace = "AWS/Lambda", stat = "Sum", period = 300, dimensions = local.lambda_alias_dimensions, expression = null },
          { id = "invocations", metric = "Invocations", namespace = "AWS/Lambda", stat = "Sum", period = 300, dimensions = local.lambda_alias_dimensions, expression = null },
          { id = "rate", metric = null, namespace = null, stat = null, period = null, dimensions = null, expression = "IF(invocations > 0, errors / invocations, 0)" },
        ]
      }
      throttles = {
        description = "Invocations throttled (reserved concurrency or the account's limit reached) in 5 minutes: callers got 429 or SQS batches waited."
        runbook     = "throttles"
        threshold   = 0
        comparison  = "GreaterThanThreshold"
        periods     = 1
        queries = [
          { id = "throttles", metric = "Throttles", namespace = "AWS/Lambda", stat = "Sum", period = 300, dimensions = { FunctionName = local.names.function }, expression = null },
        ]
      }
      duration = {
        description = "p95 duration of the alias live above ${var.duration_alarm_fraction * 100} % of the ${var.timeout_seconds} s timeout for 10 minutes: requests and batches are about to time out."
        runbook     = "latency"
        threshold   = var.duration_alarm_fraction * var.timeout_seconds * 1000
        comparison  = "GreaterThanThreshold"
        periods     = 2
        queries = [
          { id = "p95", metric = "Duration", namespace = "AWS/Lambda", stat = "p95", period = 300, dimensions = local.lambda_alias_dimensions, expression = null },
        ]
      }
      cold_start = {
        description = "p95 init duration (REPORT lines' Init Duration) above ${var.cold_start_threshold_ms} ms over 15 minutes: cold starts are slow."
        runbook     = "cold-start"
        threshold   = var.cold_start_threshold_ms
        comparison  = "GreaterThanThreshold"
        periods     = 1
        queries = [
          { id = "init", metric = "InitDuration", namespace = local.names.namespace, stat = "p95", period = 900, dimensions = {}, expression = null },
        ]
      }
      dead_letter = {
        description = "Messages waiting on ${local.names.dead_letter}: requests that failed ${var.max_receive_count} deliveries."
        runbook     = "dead-letter"
        threshold   = 0
        comparison  = "GreaterThanThreshold"
        periods     = 1
        queries = [
          { id = "visible", metric = "ApproximateNumberOfMessagesVisible", namespace = "AWS/SQS", stat = "Maximum", period = 300, dimensions = { QueueName = local.names.dead_letter }, expression = null },
        ]
      }
      backlog = {
        description = "The oldest message on ${local.names.requests} is older than ${var.oldest_message_age_seconds} s: the function is not keeping up, or not taking messages."
        runbook     = "sqs-backlog"
        threshold   = var.oldest_message_age_seconds
        comparison  = "GreaterThanThreshold"
        periods     = 1
        queries = [
          { id = "age", metric = "ApproximateAgeOfOldestMessage", namespace = "AWS/SQS", stat = "Maximum", period = 300, dimensions = { QueueName = local.names.requests }, expression = null },
        ]
      }
      publish_failures = {
        description = "Results or rejected messages the function could not send to ${local.names.results} / ${local.names.errors} in 5 minutes (the requests are retried, then dead-lettered)."
        runbook     = "publish-failures"
        threshold   = 0
        comparison  = "GreaterThanThreshold"
        periods     = 1
        queries = [
          { id = "failures", metric = "PublishFailures", namespace = local.names.namespace, stat = "Sum", period = 300, dimensions = {}, expression = null },
        ]
      }
      input_drift = {
        description = "Low-confidence predictions above ${var.low_confidence_share_threshold * 100} % of predictions in an hour (with at least 50 predictions): the input may have drifted from what the model knows."
        runbook     = "input-drift"
        threshold   = var.low_confidence_share_threshold
        comparison  = "GreaterThanThreshold"
        periods     = 1
        queries = [
          { id = "low", metric = "LowConfidencePredictions", namespace = local.names.namespace, stat = "Sum", period = 3600, dimensions = {}, expression = null },
          { id = "predictions", metric = "Predictions", namespace = local.names.namespace, stat = "Sum", period = 3600, dimensions = {}, expression = null },
          { id = "share", metric = null, namespace = null, stat = null, period = null, dimensions = null, expression = "IF(predictions >= 50, low / predictions, 0)" },
        ]
      }
      variant_fallback = {
        description = "An execution environment's int8 variant failed its start-up check on the CPU it landed on; it serves the fp32 variant (right answers, slower)."
        runbook     = "variant-fallback"
        threshold   = 0
        comparison  = "GreaterThanThreshold"
        periods     = 1
        queries = [
          { id = "failures", metric = "VariantCheckFailures", namespace = local.names.namespace, stat = "Sum", period = 300, dimensions = {}, expression = null },
        ]
      }
    },
    var.reserved_concurrency > 0 ? {
      concurrency = {
        description = "Concurrent executions at ${var.concurrency_alarm_fraction * 100} % or more of the ${var.reserved_concurrency} reserved for 5 minutes: throttling is near."
        runbook     = "instances-near-max"
        threshold   = ceil(var.concurrency_alarm_fraction * var.reserved_concurrency)
        comparison  = "GreaterThanOrEqualToThreshold"
        periods     = 5
        queries = [
          { id = "concurrent", metric = "ConcurrentExecutions", namespace = "AWS/Lambda", stat = "Maximum", period = 60, dimensions = { FunctionName = local.names.function }, expression = null },
        ]
      }
    } : {},
    var.function_url_enabled ? {
      url_5xx = {
        description = "Function URL answers of 5xx above ${var.error_rate_threshold * 100} % of its requests over 5 minutes."
        runbook     = "error-rate"
        threshold   = var.error_rate_threshold
        comparison  = "GreaterThanThreshold"
        periods     = 1
        queries = [
          { id = "errors", metric = "Url5xxCount", namespace = "AWS/Lambda", stat = "Sum", period = 300, dimensions = local.lambda_alias_dimensions, expression = null },
          { id = "requests", metric = "UrlRequestCount", namespace = "AWS/Lambda", stat = "Sum", period = 300, dimensions = local.lambda_alias_dimensions, expression = null },
          { id = "rate", metric = null, namespace = null, stat = null, period = null, dimensions = null, expression = "IF(requests > 0, errors / requests, 0)" },
        ]
      }
    } : {},
  )
}

resource "aws_sns_topic" "alarms" {
  #checkov:skip=CKV_AWS_26:Without kms_key_arn the topic is not encrypted: CloudWatch alarms cannot publish to a topic encrypted with the AWS managed key aws/sns. Alarm messages hold alarm names and thresholds, never patient data. With kms_key_arn the topic uses that key.
  name              = local.names.alarm_topic
  kms_master_key_id = local.kms_enabled ? var.kms_key_arn : null
}

resource "aws_sns_topic_policy" "alarms" {
  arn = aws_sns_topic.alarms.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "ThisDeploymentsAlarmsPublish"
      Effect    = "Allow"
      Principal = { Service = "cloudwatch.amazonaws.com" }
      Action    = "sns:Publish"
      Resource  = aws_sns_topic.alarms.arn
      Condition = {
        ArnLike      = { "aws:SourceArn" = "arn:${data.aws_partition.current.partition}:cloudwatch:${var.region}:${data.aws_caller_identity.current.account_id}:alarm:${var.name}-*" }
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
      }
    }]
  })
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_cloudwatch_metric_alarm" "signal" {
  for_each = local.alarms

  alarm_name          = "${var.name}-${replace(each.key, "_", "-")}"
  alarm_description   = "${each.value.description} Runbook: ${local.runbook_url[each.value.runbook]}"
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  evaluation_periods  = each.value.periods
  datapoints_to_alarm = each.value.periods
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  dynamic "metric_query" {
    for_each = each.value.queries
    content {
      id          = metric_query.value.id
      expression  = metric_query.value.expression
      return_data = metric_query.key == length(each.value.queries) - 1

      dynamic "metric" {
        for_each = metric_query.value.metric == null ? [] : [metric_query.value]
        content {
          metric_name = metric.value.metric
          namespace   = metric.value.namespace
          stat        = metric.value.stat
          period      = metric.value.period
          dimensions  = length(metric.value.dimensions) > 0 ? metric.value.dimensions : null
        }
      }
    }
  }
}

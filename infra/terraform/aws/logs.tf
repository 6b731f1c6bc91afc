# The function's log group, and metrics from its lines. The function's own lines are JSON
# ("request" per HTTP request, "message" per SQS message, "variant_check_failed" at start);
# Lambda's REPORT line carries "Init Duration" on a cold start. Every metric is a count or a
# duration taken from a numeric field or a status code: nothing from a request's text can
# reach a metric, a dimension or an alarm.

resource "aws_cloudwatch_log_group" "function" {
  name              = local.names.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_enabled ? var.kms_key_arn : null
}

locals {
  # Lines where predictions were made carry label_counts (a numeric comparison only matches
  # lines that have the field).
  prediction_lines = "{ $.label_counts.PRESENT >= 0 }"

  log_metrics = {
    requests = {
      name    = "Requests"
      pattern = "{ $.event = \"request\" }"
      value   = "1"
      unit    = "Count"
      # HTTP status codes: a few dozen values at most, never request content.
      dimensions = { Status = "$.status" }
    }
    server_errors = {
      name       = "ServerErrors"
      pattern    = "{ $.event = \"request\" && $.status >= 500 }"
      value      = "1"
      unit       = "Count"
      dimensions = {}
    }
    predictions = {
      name       = "Predictions"
      pattern    = local.prediction_lines
      value      = "$.item_count"
      unit       = "Count"
      dimensions = {}
    }
    low_confidence = {
      name       = "LowConfidencePredictions"
      pattern    = local.prediction_lines
      value      = "$.low_confidence_count"
      unit       = "Count"
      dimensions = {}
    }
    rejected_messages = {
      name       = "RejectedMessages"
      pattern    = "{ $.event = \"message\" && $.outcome = \"rejected\" }"
      value      = "1"
      unit       = "Count"
      dimensions = {}
    }
    publish_failures = {
      name       = "PublishFailures"
      pattern    = "{ $.event = \"message\" && ($.error_code = \"results_publish_failed\" || $.error_code = \"errors_publish_failed\") }"
      value      = "1"
      unit       = "Count"
      dimensions = {}
    }
    variant_check_failures = {
      name       = "VariantCheckFailures"
      pattern    = "{ $.event = \"variant_check_failed\" }"
      value      = "1"
      unit       = "Count"
      dimensions = {}
    }
    # REPORT RequestId: ID  Duration: D ms  Billed Duration: B ms  Memory Size: M MB
    # Max Memory Used: U MB  Init Duration: I ms  [XRAY TraceId: ...]: only cold starts have
    # the Init Duration fields; the trailing ellipsis takes X-Ray's fields when tracing is on.
    init_duration = {
      name       = "InitDuration"
      pattern    = "[report=\"REPORT\", request_id_label=\"RequestId:\", request_id, duration_label=\"Duration:\", duration, duration_unit=\"ms\", billed_label=\"Billed\", billed_label2, billed, billed_unit, memory_label=\"Memory\", memory_label2, memory, memory_unit, max_label=\"Max\", max_label2, max_label3, max_memory, max_unit, init_label=\"Init\", init_label2=\"Duration:\", init_duration, init_unit=\"ms\", ...]"
      value      = "$init_duration"
      unit       = "Milliseconds"
      dimensions = {}
    }
  }
}

resource "aws_cloudwatch_log_metric_filter" "function" {
  for_each = local.log_metrics

  name           = "${var.name}-${replace(each.key, "_", "-")}"
  log_group_name = aws_cloudwatch_log_group.function.name
  pattern        = each.value.pattern

  metric_transformation {
    name       = each.value.name
    namespace  = local.names.namespace
    value      = each.value.value
    unit       = each.value.unit
    dimensions = length(each.value.dimensions) > 0 ? each.value.dimensions : null
    # Zeros when nothing matched, so that rates and "> 0" alarms see quiet periods (a metric
    # with dimensions cannot have a default).
    default_value = length(each.value.dimensions) > 0 || each.key == "init_duration" ? null : "0"
  }
}

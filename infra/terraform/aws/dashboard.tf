# One dashboard with the signals the alarms watch, each alarm drawn over its metric.
resource "aws_cloudwatch_dashboard" "function" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = concat(
      [
        {
          type       = "text", x = 0, y = 0, width = 24, height = 2
          properties = { markdown = "## ${var.name}\nLambda alias `live`, queues `${local.names.requests}` -> `${local.names.results}` / `${local.names.errors}`, dead letters `${local.names.dead_letter}`. Runbooks: docs/runbooks/." }
        },
        {
          type = "metric", x = 0, y = 2, width = 12, height = 6
          properties = {
            title  = "Invocations, errors, throttles (alias live)"
            region = var.region
            stat   = "Sum"
            period = 60
            metrics = [
              ["AWS/Lambda", "Invocations", "FunctionName", local.names.function, "Resource", "${local.names.function}:live"],
              [".", "Errors", ".", ".", ".", "."],
              ["AWS/Lambda", "Throttles", "FunctionName", local.names.function],
            ]
          }
        },
        {
          type = "metric", x = 12, y = 2, width = 12, height = 6
          properties = {
            title  = "Duration p50 / p95 / p99 (ms)"
            region = var.region
            period = 60
            metrics = [
              for stat in ["p50", "p95", "p99"] :
              ["AWS/Lambda", "Duration", "FunctionName", local.names.function, "Resource", "${local.names.function}:live", { stat = stat }]
            ]
          }
        },
        {
          type = "metric", x = 0, y = 8, width = 12, height = 6
          properties = {
            title  = "Queues: oldest request (s), dead letters"
            region = var.region
            period = 60
            stat   = "Maximum"
            metrics = [
              ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", local.names.requests],
              ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", local.names.dead_letter, { yAxis = "right" }],
            ]
          }
        },
        {
          type = "metric", x = 12, y = 8, width = 12, height = 6
          properties = {
            title  = "Predictions, low-confidence, rejected messages, publish failures"
            region = var.region
            stat   = "Sum"
            period = 300
            metrics = [
              for m in ["Predictions", "LowConfidencePredictions", "RejectedMessages", "PublishFailures", "VariantCheckFailures"] :
              [local.names.namespace, m]
            ]
          }
        },
        {
          type = "metric", x = 0, y = 14, width = 12, height = 6
          properties = {
            title   = "Concurrency and cold starts (init ms)"
            region  = var.region
            period  = 60
            metrics = [["AWS/Lambda", "ConcurrentExecutions", "FunctionName", local.names.function, { stat = "Maximum" }], [local.names.namespace, "InitDuration", { stat = "p95", yAxis = "right" }]]
          }
        },
      ],
      [
        {
          type = "alarm", x = 12, y = 14, width = 12, height = 6
          properties = {
            title  = "Alarms"
            alarms = [for alarm in aws_cloudwatch_metric_alarm.signal : alarm.arn]
          }
        },
      ],
    )
  })
}

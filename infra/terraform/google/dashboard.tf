# One Cloud Monitoring dashboard for on-call: traffic, errors and latency per service,
# instances and cold starts, CPU and memory, the inference queue, the Pub/Sub side (backlog,
# oldest unacknowledged message, dead letters), what the model answers (label mix,
# low-confidence share) and, with the SLOs, their burn rates. Every chart reads a metric that
# Cloud Run or Pub/Sub publishes or that this module creates (log_metrics.tf): the output
# `dashboard_metric_types` lists them and tests/dashboard.tftest.hcl holds them to that.

locals {
  both_services = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=(${join(" OR ", [for s in local.watched_services : "\"${s.name}\""])})"

  # A chart: its datasets, each either a metric `filter` (with how to align and reduce it) or
  # a PromQL query. `metric` names the metric type each dataset reads.
  dashboard_charts = concat(
    [
      {
        title = "Requests per second by service and response class"
        datasets = [{
          metric = "run.googleapis.com/request_count", extra = "", aligner = "ALIGN_RATE", reducer = "REDUCE_SUM"
          group  = ["resource.label.service_name", "metric.label.response_code_class"], promql = null, plot = "STACKED_AREA"
        }]
      },
      {
        title = "5xx share by service"
        datasets = [{
          metric = null, extra = null, aligner = null, reducer = null, group = null, plot = "LINE"
          promql = "sum by (service_name) (rate(run_googleapis_com:request_count{monitored_resource=\"cloud_run_revision\",response_code_class=\"5xx\"}[5m])) / sum by (service_name) (rate(run_googleapis_com:request_count{monitored_resource=\"cloud_run_revision\"}[5m]))"
        }]
      },
      {
        title = "Request latency p50 / p95 / p99 (ms)"
        datasets = [for p in ["50", "95", "99"] : {
          metric = "run.googleapis.com/request_latencies", extra = "", aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_${p}"
          group  = ["resource.label.service_name"], promql = null, plot = "LINE"
        }]
      },
      {
        title = "Instances by service and state"
        datasets = [{
          metric = "run.googleapis.com/container/instance_count", extra = "", aligner = "ALIGN_MAX", reducer = "REDUCE_SUM"
          group  = ["resource.label.service_name", "metric.label.state"], promql = null, plot = "STACKED_AREA"
        }]
      },
      {
        title = "Cold starts: container startup latency p50 / p95 (ms)"
        datasets = [for p in ["50", "95"] : {
          metric = "run.googleapis.com/container/startup_latencies", extra = "", aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_${p}"
          group  = ["resource.label.service_name"], promql = null, plot = "LINE"
        }]
      },
      {
        title = "CPU utilization p95"
        datasets = [{
          metric = "run.googleapis.com/container/cpu/utilizations", extra = "", aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_95"
          group  = ["resource.label.service_name"], promql = null, plot = "LINE"
        }]
      },
      {
        title = "Memory utilization p95"
        datasets = [{
          metric = "run.googleapis.com/container/memory/utilizations", extra = "", aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_95"
          group  = ["resource.label.service_name"], promql = null, plot = "LINE"
        }]
      },
      {
        title = "Inference queue: inputs waiting when a request joined, p50 / p99 (HTTP)"
        datasets = [for p in ["50", "99"] : {
          metric = "logging.googleapis.com/user/${google_logging_metric.queue_depth.name}", extra = "", aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_${p}"
          group  = [], promql = null, plot = "LINE"
        }]
      },
      {
        title = "Pub/Sub backlog: undelivered request messages"
        datasets = [{
          metric = "pubsub.googleapis.com/subscription/num_undelivered_messages", extra = " AND ${local.push_sub_filter}", aligner = "ALIGN_MEAN", reducer = "REDUCE_SUM"
          group  = [], promql = null, plot = "LINE"
        }]
      },
      {
        title = "Oldest unacknowledged request message (s)"
        datasets = [{
          metric = "pubsub.googleapis.com/subscription/oldest_unacked_message_age", extra = " AND ${local.push_sub_filter}", aligner = "ALIGN_MAX", reducer = "REDUCE_MAX"
          group  = [], promql = null, plot = "LINE"
        }]
      },
      {
        title = "Messages dead-lettered per second"
        datasets = [{
          metric = "pubsub.googleapis.com/subscription/dead_letter_message_count", extra = " AND ${local.push_sub_filter}", aligner = "ALIGN_RATE", reducer = "REDUCE_SUM"
          group  = [], promql = null, plot = "LINE"
        }]
      },
      {
        title = "Label mix: predictions per second by label"
        datasets = [for label in ["present", "absent", "possible"] : {
          metric = "logging.googleapis.com/user/${local.log_metric_names["predictions_${label}"]}", extra = null, aligner = null, reducer = null, group = null, plot = "STACKED_AREA"
          promql = "sum(rate(${local.promql_sum["predictions_${label}"]}[5m]))"
        }]
      },
      {
        title = "Low-confidence share of predictions"
        datasets = [{
          metric = "logging.googleapis.com/user/${local.log_metric_names.low_confidence_predictions}", extra = null, aligner = null, reducer = null, group = null, plot = "LINE"
          promql = "sum(rate(${local.promql_sum.low_confidence_predictions}[30m])) / sum(rate(${local.promql_sum.predicted_items}[30m]))"
        }]
      },
    ],
    var.enable_slos ? [
      {
        title = "SLO burn rate over 1 h (1 = spending the budget exactly over the period)"
        datasets = [for key, name in local.slo_names : {
          metric = null, extra = null, aligner = null, reducer = null, group = null, plot = "LINE", promql = null
          slo    = "select_slo_burn_rate(\"${name}\", \"3600s\")"
        }]
      },
    ] : [],
  )

  dashboard_metric_types = distinct(compact(flatten([for chart in local.dashboard_charts : [for d in chart.datasets : d.metric]])))

  dashboard = {
    displayName = "${var.service_name}: on-call"
    mosaicLayout = {
      columns = 12
      tiles = [for index, chart in local.dashboard_charts : {
        xPos   = (index % 2) * 6
        yPos   = floor(index / 2) * 4
        width  = 6
        height = 4
        widget = {
          title = chart.title
          xyChart = {
            dataSets = [for d in chart.datasets : {
              plotType = d.plot
              # One of three query kinds; the branches differ in shape, so they meet as JSON.
              timeSeriesQuery = jsondecode(
                lookup(d, "slo", null) != null ? jsonencode({ timeSeriesFilter = { filter = d.slo } }) :
                d.promql != null ? jsonencode({ prometheusQuery = d.promql }) :
                jsonencode({
                  timeSeriesFilter = {
                    filter = "metric.type=\"${d.metric}\"${startswith(d.metric, "pubsub.") ? "" : " AND ${local.both_services}"}${d.extra}"
                    aggregation = {
                      alignmentPeriod    = "60s"
                      perSeriesAligner   = d.aligner
                      crossSeriesReducer = d.reducer
                      groupByFields      = d.group
                    }
                  }
                })
              )
            }]
          }
        }
      }]
    }
  }
}

resource "google_monitoring_dashboard" "on_call" {
  project        = var.project_id
  dashboard_json = jsonencode(local.dashboard)
}

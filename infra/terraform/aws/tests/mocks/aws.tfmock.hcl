# Values the mocked aws provider returns where a test needs a realistic one (an ARN, a URL);
# each queue its own, so that tests can tell which queue a policy or a mapping names.
mock_data "aws_caller_identity" {
  defaults = { account_id = "123456789012" }
}

mock_data "aws_partition" {
  defaults = { partition = "aws" }
}

mock_resource "aws_lambda_function" {
  defaults = {
    arn     = "arn:aws:lambda:eu-west-1:123456789012:function:clinical-assertion"
    version = "1"
  }
}

mock_resource "aws_lambda_alias" {
  defaults = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:clinical-assertion:live" }
}

mock_resource "aws_lambda_function_url" {
  defaults = { function_url = "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws/" }
}

mock_resource "aws_ecr_repository" {
  defaults = {
    arn            = "arn:aws:ecr:eu-west-1:123456789012:repository/clinical-assertion"
    repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/clinical-assertion"
  }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/clinical-assertion" }
}

mock_resource "aws_secretsmanager_secret" {
  defaults = { arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:clinical-assertion-api-keys-AbCdEf" }
}

mock_resource "aws_sns_topic" {
  defaults = { arn = "arn:aws:sns:eu-west-1:123456789012:clinical-assertion-alarms" }
}

mock_resource "aws_iam_role" {
  defaults = { arn = "arn:aws:iam::123456789012:role/clinical-assertion-execution" }
}

mock_resource "aws_cloudwatch_metric_alarm" {
  defaults = { arn = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:clinical-assertion-alarm" }
}

override_resource {
  target = aws_sqs_queue.requests
  values = {
    arn = "arn:aws:sqs:eu-west-1:123456789012:clinical-assertion-requests"
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/clinical-assertion-requests"
  }
}

override_resource {
  target = aws_sqs_queue.dead_letter
  values = {
    arn = "arn:aws:sqs:eu-west-1:123456789012:clinical-assertion-requests-dead-letter"
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/clinical-assertion-requests-dead-letter"
  }
}

override_resource {
  target = aws_sqs_queue.results
  values = {
    arn = "arn:aws:sqs:eu-west-1:123456789012:clinical-assertion-results"
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/clinical-assertion-results"
  }
}

override_resource {
  target = aws_sqs_queue.errors
  values = {
    arn = "arn:aws:sqs:eu-west-1:123456789012:clinical-assertion-errors"
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/clinical-assertion-errors"
  }
}

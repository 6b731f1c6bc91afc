# Run with an example's variables:
#   terraform test -test-directory=examples/tests -var-file=examples/minimal.tfvars
# Proves the example plans against the module (with a mocked provider) and stays private.

mock_provider "aws" {}

run "example_plans" {
  command = plan

  assert {
    condition     = aws_lambda_function_url.live[0].authorization_type == "AWS_IAM" && length(aws_lambda_permission.url_public) == 0
    error_message = "The examples deploy a private Function URL."
  }
  assert {
    condition     = aws_lambda_function.function.package_type == "Image" && aws_lambda_alias.live.name == "live"
    error_message = "The examples deploy the image behind the alias live."
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.signal) >= 10
    error_message = "The examples deploy the alarms."
  }
}

output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.function.function_name
}

output "alias_arn" {
  description = "ARN of the alias live, the one every trigger calls."
  value       = aws_lambda_alias.live.arn
}

output "function_url" {
  description = "HTTPS endpoint of the alias live (empty without a Function URL)."
  value       = var.function_url_enabled ? aws_lambda_function_url.live[0].function_url : ""
}

output "repository_url" {
  description = "ECR repository to push the `lambda` image to."
  value       = aws_ecr_repository.function.repository_url
}

output "requests_queue_url" {
  description = "Queue callers send requests to (one message per request)."
  value       = aws_sqs_queue.requests.url
}

output "results_queue_url" {
  description = "Queue of results."
  value       = aws_sqs_queue.results.url
}

output "errors_queue_url" {
  description = "Queue of messages that can never succeed (each whole, with its error code)."
  value       = aws_sqs_queue.errors.url
}

output "dead_letter_queue_url" {
  description = "Dead-letter queue of the requests queue."
  value       = aws_sqs_queue.dead_letter.url
}

output "api_key_secret_arn" {
  description = "Secrets Manager secret the function reads its API keys from (empty: none). Put its value outside Terraform (README)."
  value       = local.api_keys_enabled ? local.api_key_secret_arn : ""
}

output "execution_role_arn" {
  description = "The function's execution role."
  value       = aws_iam_role.execution.arn
}

output "deployer_role_arn" {
  description = "Role cloudbuild-lambda.yaml assumes (_AWS_ROLE_ARN); empty without deployer_google_service_account_id."
  value       = local.deployer_enabled ? aws_iam_role.deployer[0].arn : ""
}

output "deployer_audience" {
  description = "Audience of the Google ID token the pipeline presents to STS (_AWS_AUDIENCE)."
  value       = local.deployer_audience
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms send to; subscribe pagers and chat here."
  value       = aws_sns_topic.alarms.arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard with the alarms' signals."
  value       = aws_cloudwatch_dashboard.function.dashboard_name
}

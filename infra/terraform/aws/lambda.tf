# The function from the image, its alias `live` (what every trigger calls), optional
# provisioned concurrency on the alias, and the Function URL.
#
# Releases belong to cloudbuild-lambda.yaml: it updates the code, publishes a version and
# moves `live` (weighted while the canary runs). Terraform therefore ignores the image and the
# alias's version and routing: it never moves `live` (the provider reads "the latest published
# version", which may be one a canary rejected). A configuration change here publishes a
# version with $LATEST's image (a rollback restores that image too); `live` takes it at the
# next release, or with `infra/release/lambda.sh publish IMAGE` + `promote` (module README).

resource "aws_lambda_function" "function" {
  #checkov:skip=CKV_AWS_116:A dead-letter queue on the function only catches asynchronous invocations; this function is invoked synchronously (Function URL) and by an SQS event source mapping, whose failures go to the requests queue's own dead-letter queue (sqs.tf).
  #checkov:skip=CKV_AWS_272:Code signing applies to .zip packages; container images are verified by their digest in ECR (immutable tags, scan on push).
  #checkov:skip=CKV_AWS_117:The VPC is optional (vpc_subnet_ids): the function calls only AWS APIs, and most deployments need no private network.
  function_name = local.names.function
  description   = "Clinical assertion (PRESENT/ABSENT/POSSIBLE) for marked concepts: HTTP through the Function URL, events through SQS."
  role          = aws_iam_role.execution.arn
  package_type  = "Image"
  image_uri     = "${aws_ecr_repository.function.repository_url}:${var.image_tag}"
  architectures = [var.architecture]
  memory_size   = var.memory_mb
  timeout       = var.timeout_seconds
  publish       = true
  kms_key_arn   = local.kms_enabled ? var.kms_key_arn : null

  reserved_concurrent_executions = var.reserved_concurrency

  image_config {
    command = ["function.lambda_handler.handler"]
  }

  ephemeral_storage {
    size = var.ephemeral_storage_mb
  }

  environment {
    variables = local.environment
  }

  logging_config {
    # Text: the function's own lines are JSON already; Lambda's REPORT lines stay in the
    # shape the cold-start metric filter reads (logs.tf).
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function.name
  }

  tracing_config {
    mode = var.tracing_mode
  }

  dynamic "vpc_config" {
    for_each = local.vpc_enabled ? [1] : []
    content {
      subnet_ids         = var.vpc_subnet_ids
      security_group_ids = [aws_security_group.function[0].id]
    }
  }

  lifecycle {
    ignore_changes = [image_uri]
  }

  depends_on = [aws_iam_role_policy.execution, aws_cloudwatch_log_group.function]
}

resource "aws_lambda_alias" "live" {
  name             = local.names.alias
  description      = "What every trigger calls; moved by the release pipeline (weighted during a canary)."
  function_name    = aws_lambda_function.function.function_name
  function_version = aws_lambda_function.function.version

  lifecycle {
    ignore_changes = [function_version, routing_config]
  }
}

resource "aws_lambda_provisioned_concurrency_config" "live" {
  count = var.provisioned_concurrency > 0 ? 1 : 0

  function_name                     = aws_lambda_function.function.function_name
  qualifier                         = aws_lambda_alias.live.name
  provisioned_concurrent_executions = var.provisioned_concurrency
}

resource "aws_lambda_function_url" "live" {
  count = var.function_url_enabled ? 1 : 0

  function_name      = aws_lambda_function.function.function_name
  qualifier          = aws_lambda_alias.live.name
  authorization_type = var.function_url_auth_type
  invoke_mode        = "BUFFERED"
}

# AWS_IAM: the principals named may call the URL. Since October 2025 a Function URL call also
# needs lambda:InvokeFunction, hence two statements per principal. (Limiting the second to
# calls through the URL, `invoked_via_function_url`, needs hashicorp/aws 6.29; the checks here
# run on 6.25's schema, so these principals may also invoke `live` directly.)
resource "aws_lambda_permission" "url_invokers" {
  for_each = var.function_url_enabled && var.function_url_auth_type == "AWS_IAM" ? toset(var.function_url_invokers) : toset([])

  statement_id_prefix    = "url-invoke-"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.function.function_name
  qualifier              = aws_lambda_alias.live.name
  principal              = each.value
  function_url_auth_type = "AWS_IAM"
}

resource "aws_lambda_permission" "url_invokers_invoke" {
  for_each = var.function_url_enabled && var.function_url_auth_type == "AWS_IAM" ? toset(var.function_url_invokers) : toset([])

  statement_id_prefix = "url-invoke-function-"
  action              = "lambda:InvokeFunction"
  function_name       = aws_lambda_function.function.function_name
  qualifier           = aws_lambda_alias.live.name
  principal           = each.value
}

# NONE (chosen explicitly, API keys required by a validation): the URL is public; every route
# but /health still asks for a key.
resource "aws_lambda_permission" "url_public" {
  #checkov:skip=CKV_AWS_301:Public only when function_url_auth_type = "NONE" is chosen explicitly, and a variable validation then requires API keys (every route but /health checks them).
  #checkov:skip=CKV_AWS_364:A public Function URL has no source ARN to condition on; the API keys are the gate.
  count = var.function_url_enabled && var.function_url_auth_type == "NONE" ? 1 : 0

  statement_id           = "url-public"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.function.function_name
  qualifier              = aws_lambda_alias.live.name
  principal              = "*"
  function_url_auth_type = "NONE"
}

# The plan's promises, with every optional feature on (VPC, KMS, provisioned concurrency,
# the deployer role, named invokers), then with the public URL: every trigger targets the
# alias live, the requests queue dead-letters and reports batch item failures, the
# visibility rule holds, no policy has a wildcard action, every alarm names its runbook.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  kms_key_arn                        = "arn:aws:kms:eu-west-1:123456789012:key/0f1e2d3c-4b5a-6978-8897-a6b5c4d3e2f1"
  vpc_id                             = "vpc-0123456789abcdef0"
  vpc_subnet_ids                     = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
  provisioned_concurrency            = 2
  function_url_invokers              = ["arn:aws:iam::210987654321:role/clinical-pipeline"]
  deployer_google_service_account_id = "112233445566778899001"
  runbook_base_url                   = "https://github.com/acme/clinical-assertion/blob/main/docs/runbooks"
}

run "every_trigger_targets_the_alias_live" {
  command = apply

  assert {
    condition     = aws_lambda_event_source_mapping.requests.function_name == aws_lambda_alias.live.arn && aws_lambda_alias.live.name == "live"
    error_message = "The SQS mapping must invoke the alias live."
  }
  assert {
    condition     = aws_lambda_function_url.live[0].qualifier == "live" && aws_lambda_provisioned_concurrency_config.live[0].qualifier == "live"
    error_message = "The Function URL and provisioned concurrency belong to the alias live."
  }
  assert {
    condition     = alltrue([for p in concat(values(aws_lambda_permission.url_invokers), values(aws_lambda_permission.url_invokers_invoke)) : p.qualifier == "live"])
    error_message = "Invoke permissions are granted on the alias live only."
  }
  assert {
    condition     = aws_lambda_alias.live.function_version == aws_lambda_function.function.version && aws_lambda_function.function.publish
    error_message = "The alias starts on the version Terraform published."
  }
  assert {
    condition     = jsondecode(aws_ecr_repository_policy.lambda_pull.policy).Statement[0].Principal.Service == "lambda.amazonaws.com" && jsondecode(aws_ecr_repository_policy.lambda_pull.policy).Statement[0].Action == ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    error_message = "Lambda may pull the image, nothing more."
  }
}

run "function_from_the_image_with_its_settings" {
  command = apply

  assert {
    condition     = aws_lambda_function.function.package_type == "Image" && aws_lambda_function.function.image_config[0].command == tolist(["function.lambda_handler.handler"])
    error_message = "The function runs the image's Lambda handler."
  }
  assert {
    condition     = aws_lambda_function.function.image_uri == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/clinical-assertion:bootstrap"
    error_message = "The function is created from this module's repository."
  }
  assert {
    condition     = aws_lambda_function.function.memory_size == 3538 && aws_lambda_function.function.timeout == 30 && aws_lambda_function.function.ephemeral_storage[0].size == 512 && aws_lambda_function.function.architectures == tolist(["x86_64"]) && aws_lambda_function.function.reserved_concurrent_executions == 20
    error_message = "Sizes come from the variables' defaults."
  }
  assert {
    condition = (
      aws_lambda_function.function.environment[0].variables["MODEL_DIR"] == "/app/model" &&
      aws_lambda_function.function.environment[0].variables["INTRA_OP_THREADS"] == "2" &&
      aws_lambda_function.function.environment[0].variables["RESULTS_QUEUE_URL"] == aws_sqs_queue.results.url &&
      aws_lambda_function.function.environment[0].variables["ERRORS_QUEUE_URL"] == aws_sqs_queue.errors.url &&
      aws_lambda_function.function.environment[0].variables["API_KEY_SECRET"] == aws_secretsmanager_secret.api_keys[0].arn &&
      !contains(keys(aws_lambda_function.function.environment[0].variables), "API_KEYS")
    )
    error_message = "The environment names the model, the threads of 2 vCPUs, the queues and the key secret, and never holds a key."
  }
  assert {
    condition     = toset(aws_lambda_function.function.vpc_config[0].security_group_ids) == toset([aws_security_group.function[0].id]) && length(aws_security_group.function[0].ingress) == 0 && one(aws_security_group.function[0].egress).from_port == 443
    error_message = "In a VPC the function's security group has no ingress and HTTPS egress only."
  }
  assert {
    condition     = aws_lambda_function.function.logging_config[0].log_group == "/aws/lambda/clinical-assertion" && aws_cloudwatch_log_group.function.retention_in_days == 365
    error_message = "The function logs to its own group, with retention."
  }
}

run "the_requests_queue_dead_letters_and_reports_item_failures" {
  command = apply

  assert {
    condition     = jsondecode(aws_sqs_queue.requests.redrive_policy).deadLetterTargetArn == aws_sqs_queue.dead_letter.arn && jsondecode(aws_sqs_queue.requests.redrive_policy).maxReceiveCount == 5
    error_message = "The requests queue redrives to its dead-letter queue after max_receive_count receives."
  }
  assert {
    condition     = jsondecode(aws_sqs_queue_redrive_allow_policy.dead_letter.redrive_allow_policy).sourceQueueArns == [aws_sqs_queue.requests.arn]
    error_message = "Only the requests queue may use the dead-letter queue."
  }
  assert {
    condition     = toset(aws_lambda_event_source_mapping.requests.function_response_types) == toset(["ReportBatchItemFailures"]) && aws_lambda_event_source_mapping.requests.event_source_arn == aws_sqs_queue.requests.arn
    error_message = "The mapping reads the requests queue and reports batch item failures."
  }
  assert {
    condition     = aws_lambda_event_source_mapping.requests.batch_size == 10 && aws_lambda_event_source_mapping.requests.scaling_config[0].maximum_concurrency == 10
    error_message = "Batch size and maximum concurrency come from the variables."
  }
  assert {
    condition     = aws_sqs_queue.requests.visibility_timeout_seconds >= 6 * aws_lambda_function.function.timeout
    error_message = "Visibility timeout at least six times the function's timeout."
  }
  assert {
    condition     = alltrue([for q in [aws_sqs_queue.requests, aws_sqs_queue.dead_letter, aws_sqs_queue.results, aws_sqs_queue.errors] : q.kms_master_key_id == var.kms_key_arn])
    error_message = "With kms_key_arn, every queue uses it."
  }
}

run "least_privilege" {
  command = apply

  assert {
    condition = alltrue([
      for s in concat(jsondecode(aws_iam_role_policy.execution.policy).Statement, jsondecode(aws_iam_role_policy.deployer[0].policy).Statement) :
      alltrue([for a in s.Action : !strcontains(a, "*")])
    ])
    error_message = "No policy statement may use a wildcard action."
  }
  assert {
    condition = alltrue([
      for s in concat(jsondecode(aws_iam_role_policy.execution.policy).Statement, jsondecode(aws_iam_role_policy.deployer[0].policy).Statement) :
      s.Resource != ["*"] || contains(["ManageOwnNetworkInterfaces", "SendTraces", "LogInToEcr", "ReadTheNewVersionsErrors"], s.Sid)
    ])
    error_message = "\"*\" resources only for APIs without resource-level permissions (EC2 ENIs, X-Ray, ECR login, metric statistics)."
  }
  assert {
    condition = (
      { for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Sid => s.Resource } == {
        WriteOwnLogs               = ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/clinical-assertion:*"]
        TakeRequests               = [aws_sqs_queue.requests.arn]
        SendResultsAndErrors       = [aws_sqs_queue.results.arn, aws_sqs_queue.errors.arn]
        ReadApiKeys                = [aws_secretsmanager_secret.api_keys[0].arn]
        UseTheKey                  = [var.kms_key_arn]
        ManageOwnNetworkInterfaces = ["*"]
        SendTraces                 = ["*"]
      }
    )
    error_message = "The execution role reaches its log group, the requests queue (receive/delete), the results and errors queues (send), its secret, the key, its ENIs and X-Ray: nothing else."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Action if s.Sid == "SendResultsAndErrors"][0] == ["sqs:SendMessage"]
    error_message = "The function only sends to the results and errors queues."
  }
  assert {
    condition = (
      jsondecode(aws_iam_role.deployer[0].assume_role_policy).Statement[0].Principal.Federated == "accounts.google.com" &&
      jsondecode(aws_iam_role.deployer[0].assume_role_policy).Statement[0].Action == "sts:AssumeRoleWithWebIdentity" &&
      jsondecode(aws_iam_role.deployer[0].assume_role_policy).Statement[0].Condition.StringEquals["accounts.google.com:sub"] == "112233445566778899001"
    )
    error_message = "Only the named Google service account assumes the deployer role, with its ID token."
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.deployer[0].policy).Statement : s if s.Sid == "DecryptTheSecretThroughSecretsManager"]).Condition.StringEquals["kms:ViaService"] == "secretsmanager.eu-west-1.amazonaws.com"
    error_message = "With a KMS key the deployer decrypts the key secret only through Secrets Manager."
  }
}

run "every_alarm_names_its_runbook_and_pages" {
  command = apply

  assert {
    condition = toset(keys(aws_cloudwatch_metric_alarm.signal)) == toset([
      "errors", "throttles", "duration", "cold_start", "dead_letter", "backlog", "publish_failures",
      "input_drift", "variant_fallback", "concurrency", "url_5xx",
    ])
    error_message = "One alarm per failure signal."
  }
  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.signal : can(regex("Runbook: https://github.com/acme/clinical-assertion/blob/main/docs/runbooks/[a-z-]+\\.md$", a.alarm_description))])
    error_message = "Every alarm's description ends with its runbook URL."
  }
  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.signal : toset(a.alarm_actions) == toset([aws_sns_topic.alarms.arn]) && toset(a.ok_actions) == toset([aws_sns_topic.alarms.arn])])
    error_message = "Every alarm sends to the alarm topic (and says when it clears)."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.signal["duration"].threshold == 24000 && aws_cloudwatch_metric_alarm.signal["concurrency"].threshold == 16
    error_message = "Duration against 80 % of the timeout; concurrency at 80 % of the reservation."
  }
  assert {
    condition     = length([for q in aws_cloudwatch_metric_alarm.signal["errors"].metric_query : q if q.return_data]) == 1
    error_message = "A metric-math alarm returns exactly one series."
  }
  assert {
    condition     = toset([for s in aws_sns_topic_subscription.email : s.endpoint]) == toset(["oncall@example.org"])
    error_message = "The alarm topic e-mails on-call."
  }
  assert {
    condition     = length(aws_cloudwatch_log_metric_filter.function) == 8
    error_message = "Metric filters for requests, 5xx, predictions, low confidence, rejected, publish failures, variant checks and init duration."
  }
}

run "public_url_only_with_keys" {
  command = apply

  variables {
    function_url_auth_type  = "NONE"
    provisioned_concurrency = 0
  }

  assert {
    condition     = aws_lambda_function_url.live[0].authorization_type == "NONE" && aws_lambda_permission.url_public[0].principal == "*" && length(aws_lambda_permission.url_invokers) == 0
    error_message = "NONE: a public URL, no per-principal grants."
  }
  assert {
    condition     = aws_lambda_function.function.environment[0].variables["API_KEY_SECRET"] == aws_secretsmanager_secret.api_keys[0].arn
    error_message = "A public URL still asks for API keys."
  }
}

run "private_by_default" {
  command = apply

  variables {
    kms_key_arn                        = ""
    vpc_id                             = ""
    vpc_subnet_ids                     = []
    provisioned_concurrency            = 0
    function_url_invokers              = []
    deployer_google_service_account_id = ""
    runbook_base_url                   = ""
  }

  assert {
    condition     = aws_lambda_function_url.live[0].authorization_type == "AWS_IAM" && length(aws_lambda_permission.url_public) == 0
    error_message = "The URL signs requests with IAM by default."
  }
  assert {
    condition     = alltrue([for q in [aws_sqs_queue.requests, aws_sqs_queue.dead_letter, aws_sqs_queue.results, aws_sqs_queue.errors] : q.sqs_managed_sse_enabled])
    error_message = "Without a KMS key every queue uses SQS-managed encryption."
  }
  assert {
    condition     = length(aws_iam_role.deployer) == 0 && length(aws_security_group.function) == 0 && length(aws_lambda_function.function.vpc_config) == 0
    error_message = "No deployer role and no VPC unless asked for."
  }
  assert {
    condition     = !strcontains(aws_iam_role_policy.execution.policy, "ec2:") && !strcontains(aws_iam_role_policy.execution.policy, "kms:")
    error_message = "ENI and KMS permissions only when a VPC or a key is set."
  }
  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.signal : strcontains(a.alarm_description, "Runbook: docs/runbooks/")])
    error_message = "Without a runbook URL, alarms name the runbook's path."
  }
  assert {
    condition     = aws_ecr_repository.function.image_tag_mutability == "IMMUTABLE" && aws_ecr_repository.function.image_scanning_configuration[0].scan_on_push && jsondecode(aws_ecr_lifecycle_policy.keep_last.policy).rules[0].selection.countNumber == 20
    error_message = "Immutable tags, scan on push, the last 20 images kept."
  }
}

# One execution role with exactly what the function does: write its own log group, take and
# delete messages of the requests queue, send to the results and errors queues, read its
# secret, use the KMS key when one is set, manage its ENIs in a VPC, send traces. No action is
# a wildcard; "*" resources only where the API has no resource-level permission (X-Ray, and
# EC2's ENI calls, as in AWSLambdaVPCAccessExecutionRole).

locals {
  execution_statements = concat(
    [
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.function.arn}:*"]
      },
      {
        Sid      = "TakeRequests"
        Effect   = "Allow"
        Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
        Resource = [aws_sqs_queue.requests.arn]
      },
      {
        Sid      = "SendResultsAndErrors"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [aws_sqs_queue.results.arn, aws_sqs_queue.errors.arn]
      },
    ],
    local.api_keys_enabled ? [{
      Sid      = "ReadApiKeys"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [local.api_key_secret_arn]
    }] : [],
    local.kms_enabled ? [{
      Sid      = "UseTheKey"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = [var.kms_key_arn]
    }] : [],
    local.vpc_enabled ? [{
      Sid    = "ManageOwnNetworkInterfaces"
      Effect = "Allow"
      Action = [
        "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
      ]
      Resource = ["*"]
    }] : [],
    var.tracing_mode == "Active" ? [{
      Sid      = "SendTraces"
      Effect   = "Allow"
      Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      Resource = ["*"]
    }] : [],
  )
}

resource "aws_iam_role" "execution" {
  name        = local.names.role
  description = "Execution role of the ${var.name} Lambda function"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })
}

resource "aws_iam_role_policy" "execution" {
  name   = "${var.name}-function"
  role   = aws_iam_role.execution.id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.execution_statements })
}

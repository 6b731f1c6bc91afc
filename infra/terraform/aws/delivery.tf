# The role cloudbuild-lambda.yaml assumes: Cloud Build's Google service account presents its
# Google ID token (audience local.deployer_audience) to STS AssumeRoleWithWebIdentity, so no
# long-lived AWS key exists anywhere. The role may push images to this repository, update and
# publish the function, invoke a published version and read the API keys' secret (the smoke
# test), move the alias `live`, and read this deployment's alarms and the new version's error
# metrics (the canary watch). Nothing else.

locals {
  deployer_enabled  = var.deployer_google_service_account_id != ""
  deployer_audience = "sts.amazonaws.com/${local.names.deployer_role}"
  function_arn      = "arn:${data.aws_partition.current.partition}:lambda:${var.region}:${data.aws_caller_identity.current.account_id}:function:${local.names.function}"

  deployer_statements = concat([
    {
      Sid      = "LogInToEcr"
      Effect   = "Allow"
      Action   = ["ecr:GetAuthorizationToken"]
      Resource = ["*"] # GetAuthorizationToken has no resource-level permission
    },
    {
      Sid    = "PushImages"
      Effect = "Allow"
      Action = [
        "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
        "ecr:DescribeImages",
      ]
      Resource = [aws_ecr_repository.function.arn]
    },
    {
      Sid    = "ReleaseTheFunction"
      Effect = "Allow"
      Action = [
        "lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:UpdateFunctionCode",
        "lambda:PublishVersion", "lambda:GetAlias", "lambda:UpdateAlias", "lambda:InvokeFunction",
      ]
      Resource = [local.function_arn, "${local.function_arn}:*"]
    },
    {
      Sid      = "ReadTheNewVersionsErrors"
      Effect   = "Allow"
      Action   = ["cloudwatch:GetMetricStatistics"]
      Resource = ["*"] # GetMetricStatistics has no resource-level permission
    },
    {
      Sid      = "WatchTheAlarms"
      Effect   = "Allow"
      Action   = ["cloudwatch:DescribeAlarms"]
      Resource = ["arn:${data.aws_partition.current.partition}:cloudwatch:${var.region}:${data.aws_caller_identity.current.account_id}:alarm:${var.name}-*"]
    },
    ], local.api_keys_enabled ? [{
      Sid      = "ReadApiKeysForTheSmokeTest"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [local.api_key_secret_arn]
      }] : [], local.api_keys_enabled && local.kms_enabled ? [{
      Sid       = "DecryptTheSecretThroughSecretsManager"
      Effect    = "Allow"
      Action    = ["kms:Decrypt"]
      Resource  = [var.kms_key_arn]
      Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.${var.region}.amazonaws.com" } }
  }] : [])
}

resource "aws_iam_role" "deployer" {
  count = local.deployer_enabled ? 1 : 0

  name                 = local.names.deployer_role
  description          = "Assumed by Cloud Build (Google service account ${var.deployer_google_service_account_id}) to release ${var.name}"
  max_session_duration = 3600
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = "accounts.google.com" }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          # azp and sub of the service account's ID token: its unique ID; oaud: the audience
          # the pipeline asks for.
          "accounts.google.com:aud"  = var.deployer_google_service_account_id
          "accounts.google.com:sub"  = var.deployer_google_service_account_id
          "accounts.google.com:oaud" = local.deployer_audience
        }
      }
    }]
  })
}

resource "aws_iam_role_policy" "deployer" {
  count = local.deployer_enabled ? 1 : 0

  name   = "${var.name}-release"
  role   = aws_iam_role.deployer[0].id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.deployer_statements })
}

# The image repository: tags never move (a tag names one build), every push is scanned, and
# only the last var.ecr_keep_images images stay.
resource "aws_ecr_repository" "function" {
  name                 = local.names.repository
  image_tag_mutability = "IMMUTABLE"
  force_delete         = false

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = local.kms_enabled ? "KMS" : "AES256"
    kms_key         = local.kms_enabled ? var.kms_key_arn : null
  }
}

resource "aws_ecr_lifecycle_policy" "keep_last" {
  repository = aws_ecr_repository.function.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last ${var.ecr_keep_images} images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = var.ecr_keep_images
      }
      action = { type = "expire" }
    }]
  })
}

# Lambda pulls the image with its service principal: only for this account's functions named
# after this deployment (Lambda would add such a statement itself when the creator may set
# repository policies; declaring it keeps it in code).
resource "aws_ecr_repository_policy" "lambda_pull" {
  repository = aws_ecr_repository.function.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "LambdaPullsTheImage"
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
      Condition = {
        StringLike = { "aws:sourceArn" = "arn:${data.aws_partition.current.partition}:lambda:${var.region}:${data.aws_caller_identity.current.account_id}:function:${local.names.function}*" }
      }
    }]
  })
}

terraform {
  # 1.9: validations that compare two variables (visibility timeout against the function's
  # timeout, NONE auth against the key secret) fail at plan time, before any resource.
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.x: per-resource `region`, Lambda logging_config. The checks here run against the
      # schema of 6.25. 7.x is untested, hence the upper bound.
      version = ">= 6.0, < 7.0"
    }
  }
}

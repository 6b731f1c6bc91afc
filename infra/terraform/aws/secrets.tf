# The API keys' secret. Terraform creates the secret, never a value: a version is put outside
# Terraform (module README), so no key ever reaches the state. The function reads it once at
# start (API_KEY_SECRET) and refuses to start if it cannot.
resource "aws_secretsmanager_secret" "api_keys" {
  #checkov:skip=CKV2_AWS_57:API keys are rotated by people (add a key, move callers, remove the old one: module README), not by a rotation Lambda; the function reads the secret only at start.
  count = var.create_api_key_secret ? 1 : 0

  name                    = local.names.secret
  description             = "API keys of ${var.name} (comma- or newline-separated), read by the function at start."
  kms_key_id              = local.kms_enabled ? var.kms_key_arn : null
  recovery_window_in_days = 7
}

# The API key callers must present. Terraform owns the secret and who may read it; the key
# itself is added as a secret version out of band (README: "Secret values"), so it is never
# in Terraform state or plans.

resource "google_secret_manager_secret" "api_key" {
  count = local.has_api_key ? 1 : 0

  project   = var.project_id
  secret_id = local.api_key_secret_id
  labels    = local.labels

  replication {
    dynamic "auto" {
      for_each = length(var.secret_replica_locations) == 0 ? [1] : []
      content {}
    }

    dynamic "user_managed" {
      for_each = length(var.secret_replica_locations) == 0 ? [] : [1]
      content {
        dynamic "replicas" {
          for_each = var.secret_replica_locations
          content {
            location = replicas.value
          }
        }
      }
    }
  }

  depends_on = [google_project_service.apis]
}

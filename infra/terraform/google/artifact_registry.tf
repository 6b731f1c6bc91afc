# Docker repository for the function's images, next to the service (same region: faster
# cold starts, no cross-region egress).

resource "google_artifact_registry_repository" "images" {
  # checkov:skip=CKV_GCP_84:Images hold code and model weights, not patient data; Google-managed encryption avoids a key ring the first apply would depend on.
  project       = var.project_id
  location      = var.region
  repository_id = local.names.repository
  format        = "DOCKER"
  description   = "Images of the ${var.service_name} function."
  labels        = local.labels

  docker_config {
    immutable_tags = var.immutable_image_tags
  }

  # KEEP wins over DELETE: recent versions survive whatever their age, so rollbacks work.
  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-most-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = var.image_retention_count
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "${var.image_retention_days * 86400}s"
    }
  }

  depends_on = [google_project_service.apis]
}

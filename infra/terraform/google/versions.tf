terraform {
  # 1.5: check blocks. Cross-variable validation (1.9+) is deliberately not used, so that
  # constraints between variables live in resource preconditions instead.
  required_version = ">= 1.5"

  required_providers {
    google = {
      source = "hashicorp/google"
      # 6.0 brought deletion_protection on google_cloud_run_v2_service; the checks in this
      # repository run against the schema of 6.50. 7.x is untested, hence the upper bound.
      version = ">= 6.0, < 7.0"
    }
  }
}

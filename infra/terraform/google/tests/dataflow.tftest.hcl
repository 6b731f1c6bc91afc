# Bulk on Dataflow: nothing unless enable_dataflow; then a worker account with only its roles,
# a private staging bucket that forgets, and bucket-level grants on the named buckets only.

mock_provider "google" {
  source = "./tests/mocks"
}

run "nothing_without_the_flag" {
  command = plan

  assert {
    condition     = length(google_service_account.dataflow_worker) == 0 && length(google_storage_bucket.dataflow_staging) == 0 && length(google_project_iam_member.dataflow_worker) == 0
    error_message = "enable_dataflow = false creates no Dataflow resource."
  }
}

run "the_workers_get_only_what_a_job_needs" {
  command = apply

  variables {
    enable_dataflow         = true
    dataflow_input_buckets  = ["acme-notes-export"]
    dataflow_output_buckets = ["acme-assertions"]
    dataflow_launchers      = ["group:clinical-nlp@example.org"]
  }

  assert {
    condition     = google_project_iam_member.dataflow_worker[0].role == "roles/dataflow.worker" && google_project_iam_member.dataflow_worker[0].member == "serviceAccount:${google_service_account.dataflow_worker[0].email}"
    error_message = "At project level the workers are Dataflow workers, nothing more."
  }
  assert {
    condition = (
      google_storage_bucket_iam_member.dataflow_reads_inputs["acme-notes-export"].role == "roles/storage.objectViewer" &&
      google_storage_bucket_iam_member.dataflow_writes_outputs["acme-assertions"].role == "roles/storage.objectUser" &&
      google_storage_bucket_iam_member.dataflow_staging[0].bucket == google_storage_bucket.dataflow_staging[0].name &&
      length(google_storage_bucket_iam_member.dataflow_reads_inputs) == 1 && length(google_storage_bucket_iam_member.dataflow_writes_outputs) == 1
    )
    error_message = "The workers read the input buckets and write the output and staging buckets, each by a grant on that bucket."
  }
  assert {
    condition     = google_artifact_registry_repository_iam_member.dataflow_pulls_container[0].role == "roles/artifactregistry.reader"
    error_message = "The workers pull the custom container from this repository, read-only."
  }
  assert {
    condition = (
      google_storage_bucket.dataflow_staging[0].public_access_prevention == "enforced" &&
      google_storage_bucket.dataflow_staging[0].uniform_bucket_level_access &&
      one(google_storage_bucket.dataflow_staging[0].lifecycle_rule).condition[0].age == 7 &&
      one(google_storage_bucket.dataflow_staging[0].lifecycle_rule).action[0].type == "Delete" &&
      google_storage_bucket.dataflow_staging[0].location == "europe-west1"
    )
    error_message = "The staging bucket is private, in the region, and deletes what it holds after 7 days."
  }
  assert {
    condition     = google_project_iam_member.dataflow_launchers["group:clinical-nlp@example.org"].role == "roles/dataflow.developer" && google_service_account_iam_member.dataflow_launchers_act_as_worker["group:clinical-nlp@example.org"].service_account_id == google_service_account.dataflow_worker[0].name
    error_message = "Launchers may run jobs and act as the worker account only."
  }
  assert {
    condition     = contains([for k, s in google_project_service.apis : s.service], "dataflow.googleapis.com")
    error_message = "The Dataflow API is enabled with the flag."
  }
}

run "bucket_names_not_urls" {
  command = plan

  variables {
    enable_dataflow        = true
    dataflow_input_buckets = ["gs://acme-notes-export"]
  }

  expect_failures = [var.dataflow_input_buckets]
}

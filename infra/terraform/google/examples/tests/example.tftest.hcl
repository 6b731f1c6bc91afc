# Run with an example's variables:
#   terraform test -test-directory=examples/tests -var-file=examples/minimal.tfvars
# Proves the example plans against the module (with a mocked provider) and stays private.

mock_provider "google" {}

run "example_plans" {
  command = plan

  assert {
    condition     = length(google_cloud_run_v2_service_iam_member.public) == 0
    error_message = "The examples deploy a private service."
  }
  assert {
    condition     = toset(keys(google_cloud_run_v2_service.function)) == toset(["http", "events"])
    error_message = "The examples deploy the HTTP and the events service."
  }
  assert {
    condition     = length(google_monitoring_alert_policy.signal) >= 8
    error_message = "The examples deploy the alert policies."
  }
}

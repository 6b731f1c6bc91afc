# Values the mocked google provider returns where a test needs a realistic one.
mock_data "google_project" {
  defaults = { number = "123456789012" }
}

mock_resource "google_cloud_run_v2_service" {
  defaults = { uri = "https://clinical-assertion-abc123-ew.a.run.app" }
}

# The events service gets its own URL, so that tests can tell which service a URL points at.
override_resource {
  target = google_cloud_run_v2_service.function["events"]
  values = { uri = "https://clinical-assertion-events-abc123-ew.a.run.app" }
}

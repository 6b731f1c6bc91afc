# Pub/Sub: push with OIDC to the events service, retries, dead letters, retention, residency.

mock_provider "google" {
  source = "./tests/mocks"
}

run "push_subscription" {
  command = apply

  assert {
    condition     = google_pubsub_subscription.push.topic == google_pubsub_topic.topic["requests"].id
    error_message = "The push subscription reads the requests topic."
  }
  assert {
    condition     = google_pubsub_subscription.push.push_config[0].push_endpoint == "https://clinical-assertion-events-abc123-ew.a.run.app/" && google_pubsub_subscription.push.push_config[0].push_endpoint == "${google_cloud_run_v2_service.function["events"].uri}/"
    error_message = "Deliveries go to the root path of the events service (not the HTTP service) by default."
  }
  assert {
    condition     = google_pubsub_subscription.push.push_config[0].oidc_token[0].audience == "https://clinical-assertion-events-abc123-ew.a.run.app"
    error_message = "The OIDC token's audience is the events service's URL, which Cloud Run accepts."
  }
  assert {
    condition     = length(google_pubsub_subscription.push.push_config[0].no_wrapper) == 0
    error_message = "Deliveries keep the push envelope, which the events service takes as a CloudEvent."
  }
  assert {
    condition     = google_pubsub_subscription.push.ack_deadline_seconds == 60 && google_pubsub_subscription.push.retry_policy[0].minimum_backoff == "10s" && google_pubsub_subscription.push.retry_policy[0].maximum_backoff == "600s"
    error_message = "Ack deadline and retry backoff come from the variables."
  }
  assert {
    condition     = google_pubsub_subscription.push.expiration_policy[0].ttl == ""
    error_message = "The push subscription never expires."
  }
  assert {
    condition     = output.push_subscription == "clinical-assertion-push"
    error_message = "The push subscription is named after the service."
  }
}

run "dead_letter_policy" {
  command = apply

  assert {
    condition     = length(google_pubsub_subscription.push.dead_letter_policy) == 1
    error_message = "The push subscription must have a dead-letter policy."
  }
  assert {
    condition     = google_pubsub_subscription.push.dead_letter_policy[0].dead_letter_topic == google_pubsub_topic.topic["dead_letter"].id && google_pubsub_subscription.push.dead_letter_policy[0].max_delivery_attempts == 5
    error_message = "Messages go to the dead-letter topic after 5 attempts."
  }
  assert {
    condition     = google_pubsub_subscription.dead_letter.topic == google_pubsub_topic.topic["dead_letter"].id
    error_message = "The dead-letter topic has a subscription, so dead-lettered messages are kept."
  }
}

run "topics_and_retention" {
  command = plan

  assert {
    condition     = output.topics == { requests = "clinical-assertion-requests", results = "clinical-assertion-results", errors = "clinical-assertion-errors", dead_letter = "clinical-assertion-dead-letter" }
    error_message = "Input, results, errors and dead-letter topics exist, named after the service."
  }
  assert {
    condition     = alltrue([for t in google_pubsub_topic.topic : t.message_retention_duration == "86400s" && t.message_storage_policy[0].allowed_persistence_regions == tolist(["europe-west1"])])
    error_message = "Topics retain messages a day for replay and store them only in the deployment's region."
  }
  assert {
    condition     = google_pubsub_subscription.push.message_retention_duration == "604800s" && google_pubsub_subscription.dead_letter.message_retention_duration == "604800s"
    error_message = "Subscriptions keep unacknowledged messages for 7 days."
  }
}

run "custom_push_path" {
  command = apply

  variables {
    push_endpoint_path = "/pubsub"
  }

  assert {
    condition     = google_pubsub_subscription.push.push_config[0].push_endpoint == "https://clinical-assertion-events-abc123-ew.a.run.app/pubsub"
    error_message = "push_endpoint_path is appended to the events service's URL."
  }
}

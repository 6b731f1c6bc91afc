# A production-shaped deployment that sets most knobs. Values are examples, not advice for
# every project; see variables.tf or the README table for what each one does.

project_id   = "my-clinical-nlp-project"
region       = "europe-west1"
service_name = "clinical-assertion"
image        = "europe-west1-docker.pkg.dev/my-clinical-nlp-project/clinical-assertion/function@sha256:0000000000000000000000000000000000000000000000000000000000000000"
labels       = { team = "clinical-nlp", env = "prod" }

# Capacity: one warm instance avoids cold starts for the first caller of the day.
cpu           = "2"
memory        = "2Gi"
concurrency   = 8
min_instances = 1
max_instances = 20

# The events (Pub/Sub) service: messages wait in the subscription, so it scales from zero
# and its maximum bounds how fast a backlog drains.
events_cpu           = "2"
events_memory        = "2Gi"
events_concurrency   = 8
events_min_instances = 0
events_max_instances = 10

# Access: callers are named; Cloud Build deploys new images.
allow_unauthenticated = false
invoker_members = [
  "group:clinical-nlp-callers@example.org",
  "serviceAccount:ner-pipeline@my-clinical-nlp-project.iam.gserviceaccount.com",
]
# The pipelines run as the build account this module creates (create_build_service_account);
# list other deployers (people, other pipelines) here.
deployer_members = ["group:clinical-nlp-release@example.org"]

# Function settings.
log_level      = "INFO"
max_batch_size = 100
extra_env      = { OMP_NUM_THREADS = "2" }

# Secret kept in the EU.
secret_replica_locations = ["europe-west1", "europe-west4"]

# Shared VPC subnet for the connector instead of a range on the default network.
vpc_connector_subnet            = "serverless-connector-ew1"
vpc_connector_subnet_project_id = "my-network-host-project"
vpc_egress                      = "PRIVATE_RANGES_ONLY"

# Pub/Sub
pubsub_max_delivery_attempts     = 10
pubsub_message_retention_seconds = 259200

# On-call
notification_emails      = ["oncall@example.org"]
notification_channel_ids = ["projects/my-clinical-nlp-project/notificationChannels/1234567890"]
runbook_base_url         = "https://github.com/example-org/clinical-assertion/blob/main/docs/runbooks"
latency_p95_threshold_ms = 2000
error_rate_threshold     = 0.02

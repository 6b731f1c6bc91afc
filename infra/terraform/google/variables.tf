# Every knob of the deployment. Read this file to know what can be set; main.tf and the
# files beside it only wire these values into resources.

# ---------------------------------------------------------------------------------------
# Project and naming
# ---------------------------------------------------------------------------------------

variable "project_id" {
  description = "ID of the Google Cloud project that receives every resource."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 characters: lowercase letters, digits and hyphens, starting with a letter), not a project number or display name."
  }
}

variable "region" {
  description = "Region for Cloud Run, the VPC connector, Artifact Registry and Pub/Sub message storage."
  type        = string
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+(-[a-z]+)+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1 or us-central1 (not a zone such as europe-west1-b)."
  }
}

variable "service_name" {
  description = "Name of the HTTP Cloud Run service; the events (Pub/Sub) service is \"<service_name>-events\". Also the stem of the names of the service accounts, topics, subscriptions, secret, repository, connector and metrics. At most 42 characters, so that the events service's name fits Cloud Run's 49."
  type        = string
  default     = "clinical-assertion"

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,40}[a-z0-9])$", var.service_name))
    error_message = "service_name must be 2-42 characters (the events service adds \"-events\" within Cloud Run's 49) of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "labels" {
  description = "Labels added to every resource that takes labels (on top of service and managed-by)."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for k, v in var.labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))
    ])
    error_message = "Label keys must start with a lowercase letter; keys and values may hold only lowercase letters, digits, underscores and hyphens (at most 63 characters)."
  }
}

variable "enable_apis" {
  description = "Enable the Google APIs this deployment uses (Cloud Run, Secret Manager, Pub/Sub, ...). Turn off where a platform team manages APIs. APIs are never disabled on destroy."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------
# Cloud Run services: settings both share, then the HTTP service's own (cpu, memory,
# concurrency, min/max instances, probes); the events service's follow in the next section.
# ---------------------------------------------------------------------------------------

variable "image" {
  description = "Container image of the function, with a tag or digest, e.g. europe-west1-docker.pkg.dev/PROJECT/clinical-assertion/function:1.0.0. Both services run it. Used when a service is created; later deploys (Cloud Build) change the image without Terraform, which ignores it from then on."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9.-]+(:[0-9]+)?/[^\\s@:]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$", var.image))
    error_message = "image must be a full image reference with a registry host and a tag or sha256 digest, e.g. europe-west1-docker.pkg.dev/my-project/clinical-assertion/function:1.0.0."
  }
}

variable "container_port" {
  description = "Port the container listens on. Cloud Run passes it to the container as PORT."
  type        = number
  default     = 8080

  validation {
    condition     = var.container_port >= 1 && var.container_port <= 65535 && floor(var.container_port) == var.container_port
    error_message = "container_port must be an integer between 1 and 65535."
  }
}

variable "cpu" {
  description = "vCPUs per instance of the HTTP service. Inference is CPU-bound and the function runs one worker, so 2 is the measured sweet spot."
  type        = string
  default     = "2"

  validation {
    condition     = contains(["1", "2", "4", "6", "8"], var.cpu)
    error_message = "cpu must be one of \"1\", \"2\", \"4\", \"6\" or \"8\" (fractional CPUs would force a concurrency of 1)."
  }
}

variable "memory" {
  description = "Memory limit per instance of the HTTP service, in Mi or Gi. The torch backend needs about 1-2 GiB for the model."
  type        = string
  default     = "2Gi"

  validation {
    condition     = can(regex("^[1-9][0-9]*(Mi|Gi)$", var.memory))
    error_message = "memory must be a whole number followed by Mi or Gi, e.g. 2Gi or 4096Mi."
  }
}

variable "cpu_idle" {
  description = "Throttle CPU outside requests on both services (request-based billing). Set false to keep CPU allocated between requests (instance-based billing)."
  type        = bool
  default     = true
}

variable "concurrency" {
  description = "Maximum concurrent requests per instance of the HTTP service. The function batches on one worker; 8 keeps queues short for CPU inference."
  type        = number
  default     = 8

  validation {
    condition     = var.concurrency >= 1 && var.concurrency <= 1000 && floor(var.concurrency) == var.concurrency
    error_message = "concurrency must be an integer between 1 and 1000."
  }
}

variable "min_instances" {
  description = "Minimum number of instances of the HTTP service. 0 scales to zero (cold starts of several seconds with torch); 1 keeps one warm."
  type        = number
  default     = 0

  validation {
    condition     = var.min_instances >= 0 && var.min_instances <= 1000 && floor(var.min_instances) == var.min_instances
    error_message = "min_instances must be an integer between 0 and 1000."
  }
}

variable "max_instances" {
  description = "Maximum number of instances of the HTTP service. Bounds cost and the load on anything downstream. Must be >= min_instances."
  type        = number
  default     = 10

  validation {
    condition     = var.max_instances >= 1 && var.max_instances <= 1000 && floor(var.max_instances) == var.max_instances
    error_message = "max_instances must be an integer between 1 and 1000."
  }
}

variable "request_timeout_seconds" {
  description = "Request timeout of both services, in seconds. A full batch of 100 sentences takes a few seconds on 2 vCPUs. Keep pubsub_ack_deadline_seconds at or above it."
  type        = number
  default     = 60

  validation {
    condition     = var.request_timeout_seconds >= 1 && var.request_timeout_seconds <= 3600 && floor(var.request_timeout_seconds) == var.request_timeout_seconds
    error_message = "request_timeout_seconds must be an integer between 1 and 3600."
  }
}

variable "ingress" {
  description = "Who may reach the services over the network. Authentication is still required unless allow_unauthenticated is true. The uptime check needs INGRESS_TRAFFIC_ALL."
  type        = string
  default     = "INGRESS_TRAFFIC_ALL"

  validation {
    condition     = contains(["INGRESS_TRAFFIC_ALL", "INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"], var.ingress)
    error_message = "ingress must be INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  }
}

variable "allow_unauthenticated" {
  description = "Grant roles/run.invoker on the HTTP service to allUsers, making it public. It handles patient text: leave false unless an API key or a gateway in front authenticates callers. The events service is never public."
  type        = bool
  default     = false
}

variable "invoker_members" {
  description = "IAM members allowed to call the HTTP service (roles/run.invoker), e.g. [\"serviceAccount:caller@p.iam.gserviceaccount.com\", \"group:clinical-nlp@example.org\"]. The uptime check is granted separately; the events service is invoked by the Pub/Sub push identity only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.invoker_members : can(regex("^(user|serviceAccount|group|domain|principal|principalSet):.+$", m))])
    error_message = "Each invoker member must look like user:, serviceAccount:, group:, domain:, principal: or principalSet:. Use allow_unauthenticated instead of allUsers or allAuthenticatedUsers."
  }
}

variable "deployer_members" {
  description = "IAM members that deploy new revisions outside Terraform (e.g. the Cloud Build service account). Each gets run.developer on both services (a deploy rolls the image out to both), serviceAccountUser on their runtime accounts only, and artifactregistry.writer on the repository."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.deployer_members : can(regex("^(user|serviceAccount|group|principal|principalSet):.+$", m))])
    error_message = "Each deployer member must look like user:, serviceAccount:, group:, principal: or principalSet:."
  }
}

variable "create_build_service_account" {
  description = "Create the service account cloudbuild.yaml and cloudbuild-lambda.yaml run as (build_service_account_id), with exactly the roles their steps use (iam.tf: local.build_roles names the steps). false: bring your own and grant it yourself."
  type        = bool
  default     = true
}

variable "build_service_account_id" {
  description = "Account ID of the build service account: the pipelines' _BUILD_SERVICE_ACCOUNT is <id>@<project>.iam.gserviceaccount.com."
  type        = string
  default     = "assertion-build"

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{4,28}[a-z0-9])$", var.build_service_account_id))
    error_message = "build_service_account_id must be 6-30 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the Cloud Run services on destroy or replacement. Set false (and apply) before destroying."
  type        = bool
  default     = true
}

variable "health_check_path" {
  description = "Path of the HTTP service's readiness endpoint: 200 once the model is loaded, 503 before. Used by its startup and liveness probes and the uptime check. (The events service has no GET route: it gets a TCP startup probe.)"
  type        = string
  default     = "/health"

  validation {
    condition     = can(regex("^/[^\\s?#]*$", var.health_check_path))
    error_message = "health_check_path must start with / and contain no spaces, query or fragment."
  }
}

variable "startup_probe" {
  description = "Startup probe timing of both services: HTTP on health_check_path for the HTTP service, TCP on container_port for the events service. Defaults allow 120 s for imports and model load (measured 5.5-7 s with torch, more after a cold page cache)."
  type = object({
    period_seconds    = optional(number, 5)
    timeout_seconds   = optional(number, 3)
    failure_threshold = optional(number, 24)
  })
  default = {}

  validation {
    condition = (
      var.startup_probe.period_seconds >= 1 && var.startup_probe.timeout_seconds >= 1 &&
      var.startup_probe.timeout_seconds <= var.startup_probe.period_seconds &&
      var.startup_probe.failure_threshold >= 1 &&
      var.startup_probe.period_seconds * var.startup_probe.failure_threshold <= 240
    )
    error_message = "startup_probe: timeout_seconds must be between 1 and period_seconds, and period_seconds x failure_threshold must not exceed 240 s (the Cloud Run limit)."
  }
}

variable "liveness_probe" {
  description = "HTTP liveness probe of the HTTP service on health_check_path (the events service has none). An instance that fails it failure_threshold times in a row is restarted."
  type = object({
    period_seconds    = optional(number, 30)
    timeout_seconds   = optional(number, 5)
    failure_threshold = optional(number, 3)
  })
  default = {}

  validation {
    condition = (
      var.liveness_probe.period_seconds >= 1 && var.liveness_probe.period_seconds <= 3600 &&
      var.liveness_probe.timeout_seconds >= 1 &&
      var.liveness_probe.timeout_seconds <= var.liveness_probe.period_seconds &&
      var.liveness_probe.failure_threshold >= 1
    )
    error_message = "liveness_probe: period_seconds must be 1-3600, timeout_seconds between 1 and period_seconds, failure_threshold at least 1."
  }
}

# ---------------------------------------------------------------------------------------
# Events service (Pub/Sub push and Eventarc): its own size and scale. Messages are work that
# waits in the subscription, not callers holding a connection, so it can stay small.
# ---------------------------------------------------------------------------------------

variable "events_cpu" {
  description = "vCPUs per instance of the events service. Same choices and reasoning as cpu."
  type        = string
  default     = "2"

  validation {
    condition     = contains(["1", "2", "4", "6", "8"], var.events_cpu)
    error_message = "events_cpu must be one of \"1\", \"2\", \"4\", \"6\" or \"8\" (fractional CPUs would force a concurrency of 1)."
  }
}

variable "events_memory" {
  description = "Memory limit per instance of the events service, in Mi or Gi. It loads the same model as the HTTP service."
  type        = string
  default     = "2Gi"

  validation {
    condition     = can(regex("^[1-9][0-9]*(Mi|Gi)$", var.events_memory))
    error_message = "events_memory must be a whole number followed by Mi or Gi, e.g. 2Gi or 4096Mi."
  }
}

variable "events_concurrency" {
  description = "Maximum concurrent deliveries per instance of the events service. Each message is a request; its items join the same micro-batches, so a few at once fill batches without long queues."
  type        = number
  default     = 8

  validation {
    condition     = var.events_concurrency >= 1 && var.events_concurrency <= 1000 && floor(var.events_concurrency) == var.events_concurrency
    error_message = "events_concurrency must be an integer between 1 and 1000."
  }
}

variable "events_min_instances" {
  description = "Minimum number of instances of the events service. 0 scales to zero: a cold start only delays messages, which wait in the subscription."
  type        = number
  default     = 0

  validation {
    condition     = var.events_min_instances >= 0 && var.events_min_instances <= 1000 && floor(var.events_min_instances) == var.events_min_instances
    error_message = "events_min_instances must be an integer between 0 and 1000."
  }
}

variable "events_max_instances" {
  description = "Maximum number of instances of the events service. Bounds cost and how fast a backlog drains. Must be >= events_min_instances."
  type        = number
  default     = 5

  validation {
    condition     = var.events_max_instances >= 1 && var.events_max_instances <= 1000 && floor(var.events_max_instances) == var.events_max_instances
    error_message = "events_max_instances must be an integer between 1 and 1000."
  }
}

# ---------------------------------------------------------------------------------------
# Function configuration (environment variables the runtime reads at start)
# ---------------------------------------------------------------------------------------

variable "model_dir" {
  description = "MODEL_DIR: folder of the baked model inside the image."
  type        = string
  default     = "/app/model"

  validation {
    condition     = startswith(var.model_dir, "/")
    error_message = "model_dir must be an absolute path inside the container."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of the function."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL."
  }
}

variable "max_batch_size" {
  description = "MAX_BATCH_SIZE: most items the function accepts in one request or message."
  type        = number
  default     = 100

  validation {
    condition     = var.max_batch_size >= 1 && var.max_batch_size <= 10000 && floor(var.max_batch_size) == var.max_batch_size
    error_message = "max_batch_size must be an integer between 1 and 10000."
  }
}

variable "allow_unmarked" {
  description = "ALLOW_UNMARKED: accept sentences without [entity] markers. Unmarked input is out of distribution for the model; keep false."
  type        = bool
  default     = false
}

variable "extra_env" {
  description = "More environment variables for the containers of both services. Never put secrets here: they would sit in Terraform state and the service spec. Names this module sets itself are refused."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for k in keys(var.extra_env) : can(regex("^[A-Za-z_][A-Za-z0-9_]*$", k)) && !contains([
        "PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION",
        "MODEL_DIR", "API_KEY_SECRET", "GOOGLE_CLOUD_PROJECT", "RESULTS_TOPIC", "ERRORS_TOPIC",
        "LOG_LEVEL", "MAX_BATCH_SIZE", "ALLOW_UNMARKED",
        # Each service's FUNCTION_* choose what it serves: one value for both would break one.
        "FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE", "FUNCTION_USE_ASGI",
        # Plain API keys in the environment would sit in state: use the secret instead.
        "API_KEYS",
      ], upper(k))
    ])
    error_message = "extra_env names must be valid environment variable names and must not be one this module sets (PORT, K_*, MODEL_DIR, API_KEY_SECRET, GOOGLE_CLOUD_PROJECT, RESULTS_TOPIC, ERRORS_TOPIC, LOG_LEVEL, MAX_BATCH_SIZE, ALLOW_UNMARKED, FUNCTION_TARGET, FUNCTION_SIGNATURE_TYPE, FUNCTION_USE_ASGI) nor API_KEYS (keys belong in the API key secret); use the dedicated variable instead."
  }
}

# ---------------------------------------------------------------------------------------
# Secret Manager
# ---------------------------------------------------------------------------------------

variable "api_key_secret_id" {
  description = "Secret Manager secret holding the API key callers must send. null creates \"<service_name>-api-key\"; \"\" runs without an API key (API_KEY_SECRET is then empty). Terraform creates the secret and grants access; the key itself is added out of band (see README) so it never enters Terraform state."
  type        = string
  default     = null

  validation {
    condition     = var.api_key_secret_id == null || can(regex("^[A-Za-z0-9_-]{0,255}$", var.api_key_secret_id))
    error_message = "api_key_secret_id must be null, empty, or 1-255 letters, digits, underscores and hyphens."
  }
}

variable "secret_replica_locations" {
  description = "Regions the API key secret is replicated to. Empty lets Google choose (automatic replication)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for l in var.secret_replica_locations : can(regex("^[a-z]+(-[a-z]+)+[0-9]+$", l))])
    error_message = "secret_replica_locations must be region names such as europe-west1."
  }
}

# ---------------------------------------------------------------------------------------
# Serverless VPC Access connector
# ---------------------------------------------------------------------------------------

variable "enable_vpc_connector" {
  description = "Create a Serverless VPC Access connector and send both services' egress through it (for private resources in the VPC). Set false when the services only talk to Google APIs."
  type        = bool
  default     = true
}

variable "vpc_connector_name" {
  description = "Name of the connector. null derives \"<service_name>-vpc\" (shortened to fit the 25-character limit)."
  type        = string
  default     = null

  validation {
    condition     = var.vpc_connector_name == null || can(regex("^[a-z][-a-z0-9]{0,23}[a-z0-9]$", var.vpc_connector_name))
    error_message = "vpc_connector_name must be 2-25 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "vpc_connector_network" {
  description = "VPC network the connector attaches to (ignored when vpc_connector_subnet is set)."
  type        = string
  default     = "default"

  validation {
    condition     = length(var.vpc_connector_network) > 0
    error_message = "vpc_connector_network must not be empty."
  }
}

variable "vpc_connector_ip_cidr_range" {
  description = "Unused /28 range the connector takes its addresses from (ignored when vpc_connector_subnet is set)."
  type        = string
  default     = "10.8.0.0/28"

  validation {
    condition     = can(cidrhost(var.vpc_connector_ip_cidr_range, 0)) && endswith(var.vpc_connector_ip_cidr_range, "/28") && cidrhost(var.vpc_connector_ip_cidr_range, 0) == split("/", var.vpc_connector_ip_cidr_range)[0]
    error_message = "vpc_connector_ip_cidr_range must be an IPv4 /28 network address such as 10.8.0.0/28."
  }
}

variable "vpc_connector_subnet" {
  description = "Existing /28 subnet (name) for the connector, instead of network + ip_cidr_range. Needed for Shared VPC."
  type        = string
  default     = null

  validation {
    condition     = var.vpc_connector_subnet == null || can(regex("^[a-z]([-a-z0-9]*[a-z0-9])?$", var.vpc_connector_subnet))
    error_message = "vpc_connector_subnet must be a subnet name (lowercase letters, digits, hyphens)."
  }
}

variable "vpc_connector_subnet_project_id" {
  description = "Project of vpc_connector_subnet when it lives in a Shared VPC host project. null means project_id."
  type        = string
  default     = null
}

variable "vpc_connector_machine_type" {
  description = "Machine type of the connector instances."
  type        = string
  default     = "e2-micro"

  validation {
    condition     = contains(["f1-micro", "e2-micro", "e2-standard-4"], var.vpc_connector_machine_type)
    error_message = "vpc_connector_machine_type must be f1-micro, e2-micro or e2-standard-4."
  }
}

variable "vpc_connector_min_instances" {
  description = "Minimum connector instances (2-9). Must be below vpc_connector_max_instances."
  type        = number
  default     = 2

  validation {
    condition     = var.vpc_connector_min_instances >= 2 && var.vpc_connector_min_instances <= 9 && floor(var.vpc_connector_min_instances) == var.vpc_connector_min_instances
    error_message = "vpc_connector_min_instances must be an integer between 2 and 9."
  }
}

variable "vpc_connector_max_instances" {
  description = "Maximum connector instances (3-10). Connectors never scale back in, so keep this modest."
  type        = number
  default     = 3

  validation {
    condition     = var.vpc_connector_max_instances >= 3 && var.vpc_connector_max_instances <= 10 && floor(var.vpc_connector_max_instances) == var.vpc_connector_max_instances
    error_message = "vpc_connector_max_instances must be an integer between 3 and 10."
  }
}

variable "vpc_egress" {
  description = "Which egress goes through the connector: PRIVATE_RANGES_ONLY (Google APIs stay on Google's network directly) or ALL_TRAFFIC (everything, e.g. to apply firewall rules or a NAT address)."
  type        = string
  default     = "PRIVATE_RANGES_ONLY"

  validation {
    condition     = contains(["PRIVATE_RANGES_ONLY", "ALL_TRAFFIC"], var.vpc_egress)
    error_message = "vpc_egress must be PRIVATE_RANGES_ONLY or ALL_TRAFFIC."
  }
}

# ---------------------------------------------------------------------------------------
# Pub/Sub
# ---------------------------------------------------------------------------------------

variable "push_endpoint_path" {
  description = "Path on the events service that receives Pub/Sub push deliveries. It takes POST on every path; the root is the usual choice."
  type        = string
  default     = "/"

  validation {
    condition     = can(regex("^/[^\\s?#]*$", var.push_endpoint_path))
    error_message = "push_endpoint_path must start with / and contain no spaces, query or fragment."
  }
}

variable "pubsub_ack_deadline_seconds" {
  description = "How long Pub/Sub waits for the events service to answer a push before redelivering. Keep it at or above request_timeout_seconds."
  type        = number
  default     = 60

  validation {
    condition     = var.pubsub_ack_deadline_seconds >= 10 && var.pubsub_ack_deadline_seconds <= 600 && floor(var.pubsub_ack_deadline_seconds) == var.pubsub_ack_deadline_seconds
    error_message = "pubsub_ack_deadline_seconds must be an integer between 10 and 600."
  }
}

variable "pubsub_retry_minimum_backoff_seconds" {
  description = "Shortest wait before Pub/Sub redelivers a message the events service did not acknowledge (it answered 500, or nothing in time)."
  type        = number
  default     = 10

  validation {
    condition     = var.pubsub_retry_minimum_backoff_seconds >= 0 && var.pubsub_retry_minimum_backoff_seconds <= 600 && floor(var.pubsub_retry_minimum_backoff_seconds) == var.pubsub_retry_minimum_backoff_seconds
    error_message = "pubsub_retry_minimum_backoff_seconds must be an integer between 0 and 600."
  }
}

variable "pubsub_retry_maximum_backoff_seconds" {
  description = "Longest wait before Pub/Sub redelivers a message (exponential backoff up to this)."
  type        = number
  default     = 600

  validation {
    condition     = var.pubsub_retry_maximum_backoff_seconds >= 0 && var.pubsub_retry_maximum_backoff_seconds <= 600 && floor(var.pubsub_retry_maximum_backoff_seconds) == var.pubsub_retry_maximum_backoff_seconds
    error_message = "pubsub_retry_maximum_backoff_seconds must be an integer between 0 and 600."
  }
}

variable "pubsub_max_delivery_attempts" {
  description = "Deliveries of a message before it goes to the dead-letter topic."
  type        = number
  default     = 5

  validation {
    condition     = var.pubsub_max_delivery_attempts >= 5 && var.pubsub_max_delivery_attempts <= 100 && floor(var.pubsub_max_delivery_attempts) == var.pubsub_max_delivery_attempts
    error_message = "pubsub_max_delivery_attempts must be an integer between 5 and 100 (the Pub/Sub limits)."
  }
}

variable "pubsub_message_retention_seconds" {
  description = "How long the subscriptions keep unacknowledged messages (default 7 days). Messages hold patient text: keep this no longer than needed."
  type        = number
  default     = 604800

  validation {
    condition     = var.pubsub_message_retention_seconds >= 600 && var.pubsub_message_retention_seconds <= 2678400 && floor(var.pubsub_message_retention_seconds) == var.pubsub_message_retention_seconds
    error_message = "pubsub_message_retention_seconds must be an integer between 600 (10 minutes) and 2678400 (31 days)."
  }
}

variable "topic_message_retention_seconds" {
  description = "How long the topics keep every published message, acknowledged or not, so a subscription can be replayed with seek after an incident. null turns topic retention off."
  type        = number
  default     = 86400

  validation {
    condition     = var.topic_message_retention_seconds == null || (try(var.topic_message_retention_seconds >= 600 && var.topic_message_retention_seconds <= 2678400 && floor(var.topic_message_retention_seconds) == var.topic_message_retention_seconds, false))
    error_message = "topic_message_retention_seconds must be null or an integer between 600 and 2678400."
  }
}

variable "pubsub_persistence_regions" {
  description = "Regions where Pub/Sub may store messages (they contain patient text). Empty means only var.region."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for l in var.pubsub_persistence_regions : can(regex("^[a-z]+(-[a-z]+)+[0-9]+$", l))])
    error_message = "pubsub_persistence_regions must be region names such as europe-west1."
  }
}

variable "pubsub_kms_key_name" {
  description = "Cloud KMS key (projects/P/locations/L/keyRings/R/cryptoKeys/K) to encrypt the topics with. null uses Google-managed encryption. When set, the Pub/Sub service agent is granted encrypt/decrypt on that key."
  type        = string
  default     = null

  validation {
    condition     = var.pubsub_kms_key_name == null || can(regex("^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$", var.pubsub_kms_key_name))
    error_message = "pubsub_kms_key_name must be null or projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY."
  }
}

# ---------------------------------------------------------------------------------------
# Artifact Registry
# ---------------------------------------------------------------------------------------

variable "artifact_registry_repository_id" {
  description = "ID of the Docker repository for the images. null uses service_name."
  type        = string
  default     = null

  validation {
    condition     = var.artifact_registry_repository_id == null || can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.artifact_registry_repository_id))
    error_message = "artifact_registry_repository_id must be lowercase letters, digits and hyphens, starting with a letter (at most 63 characters)."
  }
}

variable "image_retention_count" {
  description = "Most recent image versions kept by the repository's cleanup policy, whatever their age (so rollbacks stay possible)."
  type        = number
  default     = 10

  validation {
    condition     = var.image_retention_count >= 1 && var.image_retention_count <= 1000 && floor(var.image_retention_count) == var.image_retention_count
    error_message = "image_retention_count must be an integer between 1 and 1000."
  }
}

variable "image_retention_days" {
  description = "Image versions older than this, and not among the image_retention_count most recent, are deleted."
  type        = number
  default     = 90

  validation {
    condition     = var.image_retention_days >= 1 && floor(var.image_retention_days) == var.image_retention_days
    error_message = "image_retention_days must be a whole number of days, at least 1."
  }
}

variable "immutable_image_tags" {
  description = "Refuse to move an existing tag to another image. Turn on if deploys never re-push a tag such as latest."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------------------
# Monitoring and alerting
# ---------------------------------------------------------------------------------------

variable "notification_emails" {
  description = "E-mail addresses that receive every alert (one e-mail notification channel each)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.notification_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "notification_emails must be e-mail addresses."
  }
}

variable "notification_channel_ids" {
  description = "Existing notification channels (e.g. PagerDuty, Slack) that also receive every alert, as projects/P/notificationChannels/ID."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.notification_channel_ids : can(regex("^projects/[^/]+/notificationChannels/[^/]+$", c))])
    error_message = "notification_channel_ids must look like projects/PROJECT/notificationChannels/ID."
  }
}

variable "runbook_base_url" {
  description = "URL of the docs/runbooks folder as the on-call engineer can open it (e.g. the repository's web view). Empty names the runbook by its path in the repository."
  type        = string
  default     = ""

  validation {
    condition     = var.runbook_base_url == "" || can(regex("^https://[^\\s]+[^/\\s]$", var.runbook_base_url))
    error_message = "runbook_base_url must be empty or an https:// URL without a trailing slash."
  }
}

variable "enable_uptime_check" {
  description = "Create the uptime check on health_check_path and its \"service down\" alert. It needs ingress = INGRESS_TRAFFIC_ALL: checkers call from the internet (with an OIDC token, so the service stays private)."
  type        = bool
  default     = true
}

variable "uptime_check_period" {
  description = "How often the uptime check calls the health endpoint. Each call from each checker region may start an instance when min_instances is 0."
  type        = string
  default     = "300s"

  validation {
    condition     = contains(["60s", "300s", "600s", "900s"], var.uptime_check_period)
    error_message = "uptime_check_period must be 60s, 300s, 600s or 900s."
  }
}

variable "uptime_check_timeout_seconds" {
  description = "How long the uptime check waits for the health endpoint; covers a cold start."
  type        = number
  default     = 30

  validation {
    condition     = var.uptime_check_timeout_seconds >= 1 && var.uptime_check_timeout_seconds <= 60 && floor(var.uptime_check_timeout_seconds) == var.uptime_check_timeout_seconds
    error_message = "uptime_check_timeout_seconds must be an integer between 1 and 60."
  }
}

variable "error_rate_threshold" {
  description = "Alert when the share of 5xx responses over 5 minutes exceeds this (0-1)."
  type        = number
  default     = 0.05

  validation {
    condition     = var.error_rate_threshold > 0 && var.error_rate_threshold <= 1
    error_message = "error_rate_threshold is a ratio: greater than 0 and at most 1 (0.05 means 5 %)."
  }
}

variable "latency_p95_threshold_ms" {
  description = "Alert when the 95th percentile request latency stays above this many milliseconds for 5 minutes. Covers batches of up to max_batch_size sentences."
  type        = number
  default     = 3000

  validation {
    condition     = var.latency_p95_threshold_ms > 0
    error_message = "latency_p95_threshold_ms must be a positive number of milliseconds."
  }
}

variable "memory_utilization_threshold" {
  description = "Alert when the 99th percentile container memory utilization exceeds this (0-1)."
  type        = number
  default     = 0.85

  validation {
    condition     = var.memory_utilization_threshold > 0 && var.memory_utilization_threshold <= 1
    error_message = "memory_utilization_threshold is a ratio: greater than 0 and at most 1."
  }
}

variable "instance_count_threshold_ratio" {
  description = "Alert when the instance count reaches this share of max_instances (rounded up)."
  type        = number
  default     = 0.8

  validation {
    condition     = var.instance_count_threshold_ratio > 0 && var.instance_count_threshold_ratio <= 1
    error_message = "instance_count_threshold_ratio is a ratio: greater than 0 and at most 1."
  }
}

variable "startup_latency_threshold_ms" {
  description = "Alert when the 95th percentile container startup latency (cold start) exceeds this many milliseconds."
  type        = number
  default     = 20000

  validation {
    condition     = var.startup_latency_threshold_ms > 0
    error_message = "startup_latency_threshold_ms must be a positive number of milliseconds."
  }
}

variable "pubsub_oldest_unacked_threshold_seconds" {
  description = "Alert when the oldest unacknowledged message on the push subscription is older than this."
  type        = number
  default     = 600

  validation {
    condition     = var.pubsub_oldest_unacked_threshold_seconds >= 60
    error_message = "pubsub_oldest_unacked_threshold_seconds must be at least 60."
  }
}

variable "dead_letter_threshold" {
  description = "Alert when more than this many messages are dead-lettered within 5 minutes (0: any)."
  type        = number
  default     = 0

  validation {
    condition     = var.dead_letter_threshold >= 0
    error_message = "dead_letter_threshold must not be negative."
  }
}

variable "low_confidence_share_threshold" {
  description = "Alert (input drift) when the share of predictions below the function's confidence threshold, over the last hour, exceeds this (0-1)."
  type        = number
  default     = 0.3

  validation {
    condition     = var.low_confidence_share_threshold > 0 && var.low_confidence_share_threshold < 1
    error_message = "low_confidence_share_threshold is a ratio strictly between 0 and 1."
  }
}

variable "low_confidence_min_predictions" {
  description = "The input drift alert only fires when at least this many predictions were made in the hour, so a handful of odd requests cannot page anyone."
  type        = number
  default     = 50

  validation {
    condition     = var.low_confidence_min_predictions >= 1 && floor(var.low_confidence_min_predictions) == var.low_confidence_min_predictions
    error_message = "low_confidence_min_predictions must be a whole number, at least 1."
  }
}

# ---------------------------------------------------------------------------------------
# Bulk: the Beam pipeline (python -m function.bulk) on Dataflow
# ---------------------------------------------------------------------------------------

variable "enable_dataflow" {
  description = "Create what a Dataflow job of the bulk pipeline needs: a worker service account with only its roles, a staging bucket with a lifecycle rule, read access to dataflow_input_buckets and write access to dataflow_output_buckets."
  type        = bool
  default     = false
}

variable "dataflow_input_buckets" {
  description = "Buckets (names, no gs://) the workers read corpora from (roles/storage.objectViewer on each)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for b in var.dataflow_input_buckets : can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", b))])
    error_message = "dataflow_input_buckets must be bucket names (3-63 lowercase letters, digits, dots, hyphens, underscores), without gs://."
  }
}

variable "dataflow_output_buckets" {
  description = "Buckets (names, no gs://) the workers write results and dead letters to (roles/storage.objectUser on each)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for b in var.dataflow_output_buckets : can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", b))])
    error_message = "dataflow_output_buckets must be bucket names (3-63 lowercase letters, digits, dots, hyphens, underscores), without gs://."
  }
}

variable "dataflow_launchers" {
  description = "IAM members that launch bulk jobs: roles/dataflow.developer on the project and actAs on the worker account only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.dataflow_launchers : can(regex("^(user|serviceAccount|group|principal|principalSet):.+$", m))])
    error_message = "Each launcher must look like user:, serviceAccount:, group:, principal: or principalSet:."
  }
}

variable "dataflow_staging_days" {
  description = "Days after which objects in the Dataflow staging bucket (staged packages, temporary files) are deleted."
  type        = number
  default     = 7

  validation {
    condition     = var.dataflow_staging_days >= 1 && var.dataflow_staging_days <= 365
    error_message = "dataflow_staging_days must lie between 1 and 365."
  }
}

# --- service level objectives (slo.tf) ---------------------------------------------------

variable "enable_slos" {
  description = "Create the SLOs (HTTP availability and latency, events freshness) and their fast-burn (page) and slow-burn (ticket) alerts."
  type        = bool
  default     = true
}

variable "slo_rolling_period_days" {
  description = "The rolling period every SLO is measured over, in days."
  type        = number
  default     = 28

  validation {
    condition     = var.slo_rolling_period_days >= 1 && var.slo_rolling_period_days <= 30 && floor(var.slo_rolling_period_days) == var.slo_rolling_period_days
    error_message = "slo_rolling_period_days must be a whole number of days from 1 to 30 (Cloud Monitoring's limit)."
  }
}

variable "slo_availability_goal" {
  description = "Share of HTTP API requests not answered 5xx (0.9 to 0.9999)."
  type        = number
  default     = 0.995

  validation {
    condition     = var.slo_availability_goal >= 0.9 && var.slo_availability_goal <= 0.9999
    error_message = "slo_availability_goal must be from 0.9 to 0.9999."
  }
}

variable "slo_latency_goal" {
  description = "Share of HTTP API requests answered within slo_latency_threshold_ms (0.9 to 0.9999)."
  type        = number
  default     = 0.99

  validation {
    condition     = var.slo_latency_goal >= 0.9 && var.slo_latency_goal <= 0.9999
    error_message = "slo_latency_goal must be from 0.9 to 0.9999."
  }
}

variable "slo_latency_threshold_ms" {
  description = "The latency SLO's threshold in milliseconds, as Cloud Run measures request latency (queueing included). Covers batches of up to max_batch_size sentences."
  type        = number
  default     = 3000

  validation {
    condition     = var.slo_latency_threshold_ms >= 10 && var.slo_latency_threshold_ms <= 600000
    error_message = "slo_latency_threshold_ms must be from 10 to 600000 milliseconds."
  }
}

variable "slo_freshness_goal" {
  description = "Share of 5-minute windows in which the oldest unacknowledged request message is younger than slo_oldest_unacked_seconds (0.9 to 0.9999)."
  type        = number
  default     = 0.99

  validation {
    condition     = var.slo_freshness_goal >= 0.9 && var.slo_freshness_goal <= 0.9999
    error_message = "slo_freshness_goal must be from 0.9 to 0.9999."
  }
}

variable "slo_oldest_unacked_seconds" {
  description = "The freshness SLO's bound on the age of the oldest unacknowledged request message, in seconds."
  type        = number
  default     = 300

  validation {
    condition     = var.slo_oldest_unacked_seconds >= 10
    error_message = "slo_oldest_unacked_seconds must be at least 10 seconds."
  }
}

variable "slo_fast_burn" {
  description = "The burn rate that pages, and its two windows in seconds (SRE workbook: 14.4x over 1 h and 5 min spends 2% of a 30-day budget)."
  type = object({
    rate                 = number
    long_window_seconds  = number
    short_window_seconds = number
  })
  default = { rate = 14.4, long_window_seconds = 3600, short_window_seconds = 300 }

  validation {
    condition     = var.slo_fast_burn.rate > 1 && var.slo_fast_burn.short_window_seconds >= 60 && var.slo_fast_burn.long_window_seconds > var.slo_fast_burn.short_window_seconds && var.slo_fast_burn.long_window_seconds <= 86400
    error_message = "slo_fast_burn needs rate > 1, short_window_seconds >= 60, and long_window_seconds above it and at most a day."
  }
}

variable "slo_slow_burn" {
  description = "The burn rate that opens a ticket, and its two windows in seconds (SRE workbook: 6x over 6 h and 30 min spends 5% of a 30-day budget)."
  type = object({
    rate                 = number
    long_window_seconds  = number
    short_window_seconds = number
  })
  default = { rate = 6, long_window_seconds = 21600, short_window_seconds = 1800 }

  validation {
    condition     = var.slo_slow_burn.rate > 1 && var.slo_slow_burn.short_window_seconds >= 60 && var.slo_slow_burn.long_window_seconds > var.slo_slow_burn.short_window_seconds && var.slo_slow_burn.long_window_seconds <= 86400
    error_message = "slo_slow_burn needs rate > 1, short_window_seconds >= 60, and long_window_seconds above it and at most a day."
  }
}

variable "slo_ticket_channel_ids" {
  description = "Notification channels for the slow-burn alerts (a ticket queue); empty: the same channels as every alert."
  type        = list(string)
  default     = []
}

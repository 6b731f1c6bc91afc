# Every knob of the AWS deployment. Read this file to know what can be set; the files beside
# it only wire these values into resources.

# ---------------------------------------------------------------------------------------
# Account, region and naming
# ---------------------------------------------------------------------------------------

variable "region" {
  description = "AWS region of every resource."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region such as eu-west-1 or us-east-1 (not an availability zone such as eu-west-1a)."
  }
}

variable "name" {
  description = "Name of the Lambda function and stem of every other name (repository, queues, secret, role, log group, alarms). At most 40 characters so that \"<name>-requests-dead-letter\" and the role names fit AWS's limits."
  type        = string
  default     = "clinical-assertion"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "name must be 3-40 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "tags" {
  description = "Tags added to every resource (on top of service and managed-by)."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------
# Image and function
# ---------------------------------------------------------------------------------------

variable "image_tag" {
  description = "Tag in this module's ECR repository that the function is created from (the first apply only: afterwards the release pipeline updates the code, and Terraform leaves the image alone). The Dockerfile's `lambda` target, pushed before the function is created (README: first apply)."
  type        = string
  default     = "bootstrap"

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a Docker tag: up to 128 letters, digits, underscores, periods and hyphens, not starting with a period or hyphen."
  }
}

variable "ecr_keep_images" {
  description = "How many images the ECR lifecycle policy keeps (older ones expire). Keep enough to roll back several releases."
  type        = number
  default     = 20

  validation {
    condition     = var.ecr_keep_images >= 3 && var.ecr_keep_images <= 1000 && floor(var.ecr_keep_images) == var.ecr_keep_images
    error_message = "ecr_keep_images must be a whole number from 3 to 1000 (fewer leaves nothing to roll back to)."
  }
}

variable "memory_mb" {
  description = "Memory of the function in MB. Lambda gives CPU in proportion (1 vCPU at 1769 MB, 2 at 3538, up to 6 at 10240); the model needs about 0.4 GB. Default: 2 vCPUs, the machine the benchmarks measure (module README: sizing)."
  type        = number
  default     = 3538

  validation {
    condition     = var.memory_mb >= 1024 && var.memory_mb <= 10240 && floor(var.memory_mb) == var.memory_mb
    error_message = "memory_mb must be a whole number from 1024 to 10240: below 1 GB the function gets under 0.6 vCPU, and the model's load and start-up check (2-3 s on 2 cores) stretch towards Lambda's 10 s init window."
  }
}

variable "timeout_seconds" {
  description = "Function timeout in seconds. An HTTP request or an SQS batch must finish within it; the requests queue's visibility timeout must be at least six times it."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout_seconds >= 5 && var.timeout_seconds <= 900 && floor(var.timeout_seconds) == var.timeout_seconds
    error_message = "timeout_seconds must be a whole number from 5 to 900 (the model's init alone may take several seconds on a cold start)."
  }
}

variable "ephemeral_storage_mb" {
  description = "Size of /tmp in MB. The function writes nothing there; the minimum is enough."
  type        = number
  default     = 512

  validation {
    condition     = var.ephemeral_storage_mb >= 512 && var.ephemeral_storage_mb <= 10240 && floor(var.ephemeral_storage_mb) == var.ephemeral_storage_mb
    error_message = "ephemeral_storage_mb must be a whole number from 512 to 10240."
  }
}

variable "architecture" {
  description = "Instruction set of the image and of the function: x86_64 or arm64 (build the image for the same one: podman/docker --platform linux/arm64)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "reserved_concurrency" {
  description = "Concurrent executions reserved for (and capping) the function: a ceiling on cost and on what the function can take from the account's pool. -1 reserves nothing (not recommended: no ceiling)."
  type        = number
  default     = 20

  validation {
    condition     = var.reserved_concurrency == -1 || (var.reserved_concurrency >= 1 && var.reserved_concurrency <= 3000 && floor(var.reserved_concurrency) == var.reserved_concurrency)
    error_message = "reserved_concurrency must be -1 (none) or a whole number from 1 to 3000."
  }
}

variable "provisioned_concurrency" {
  description = "Execution environments kept initialized on the alias `live` (no cold start for them; billed while idle). 0 turns it off."
  type        = number
  default     = 0

  validation {
    condition     = var.provisioned_concurrency >= 0 && floor(var.provisioned_concurrency) == var.provisioned_concurrency
    error_message = "provisioned_concurrency must be a whole number, 0 or more."
  }

  validation {
    condition     = var.reserved_concurrency == -1 || var.provisioned_concurrency <= var.reserved_concurrency
    error_message = "provisioned_concurrency cannot exceed reserved_concurrency."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing of invocations: Active or PassThrough. Traces hold timings and the function's name, never a request body."
  type        = string
  default     = "Active"

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be Active or PassThrough."
  }
}

# ---------------------------------------------------------------------------------------
# The service's settings (README: configuration)
# ---------------------------------------------------------------------------------------

variable "precision" {
  description = "PRECISION: auto (the fastest variant that passes its start-up check), int8 or fp32."
  type        = string
  default     = "auto"

  validation {
    condition     = contains(["auto", "int8", "fp32"], var.precision)
    error_message = "precision must be auto, int8 or fp32."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of the function."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "low_confidence_threshold" {
  description = "LOW_CONFIDENCE_THRESHOLD: a prediction whose top score is below it counts as low-confidence (the drift alarm watches their share)."
  type        = number
  default     = 0.6

  validation {
    condition     = var.low_confidence_threshold > 0 && var.low_confidence_threshold < 1
    error_message = "low_confidence_threshold must lie between 0 and 1."
  }
}

variable "extra_env" {
  description = "More environment variables of the service (README: configuration), e.g. MAX_BATCH_SIZE. Keys and the names this module sets are refused here."
  type        = map(string)
  default     = {}

  validation {
    condition = length(setintersection(keys(var.extra_env), [
      "API_KEYS", "API_KEY_SECRET", "MODEL_DIR", "RESULTS_QUEUE_URL", "ERRORS_QUEUE_URL", "PRECISION",
      "LOG_LEVEL", "LOW_CONFIDENCE_THRESHOLD", "INTRA_OP_THREADS",
    ])) == 0
    error_message = "extra_env must not set API_KEYS (keys belong in the Secrets Manager secret, never in Terraform state or the function's configuration) nor a name this module sets itself (API_KEY_SECRET, MODEL_DIR, RESULTS_QUEUE_URL, ERRORS_QUEUE_URL, PRECISION, LOG_LEVEL, LOW_CONFIDENCE_THRESHOLD, INTRA_OP_THREADS)."
  }

  validation {
    condition     = alltrue([for k in keys(var.extra_env) : can(regex("^[A-Z][A-Z0-9_]*$", k)) && !startswith(k, "AWS_") && !startswith(k, "LAMBDA_")])
    error_message = "extra_env keys must be upper-case names (letters, digits, underscores) and not start with AWS_ or LAMBDA_ (reserved by Lambda)."
  }
}

# ---------------------------------------------------------------------------------------
# HTTP: the Function URL, and API keys
# ---------------------------------------------------------------------------------------

variable "function_url_enabled" {
  description = "Create a Function URL on the alias `live` (HTTPS, the same API as Cloud Run)."
  type        = bool
  default     = true
}

variable "function_url_auth_type" {
  description = "AWS_IAM (callers sign requests with SigV4 and need lambda:InvokeFunctionUrl) or NONE (public; then API keys are required)."
  type        = string
  default     = "AWS_IAM"

  validation {
    condition     = contains(["AWS_IAM", "NONE"], var.function_url_auth_type)
    error_message = "function_url_auth_type must be AWS_IAM or NONE."
  }

  validation {
    condition     = var.function_url_auth_type == "AWS_IAM" || var.create_api_key_secret || var.api_key_secret_arn != ""
    error_message = "function_url_auth_type = \"NONE\" makes the URL public: it needs API keys (create_api_key_secret = true, or api_key_secret_arn), so that every route but /health still asks for a key."
  }
}

variable "function_url_invokers" {
  description = "ARNs of the IAM principals (roles, users, or account roots arn:aws:iam::ACCOUNT:root) allowed to call the Function URL when auth is AWS_IAM. Principals of this account may instead be granted lambda:InvokeFunctionUrl in their own policies."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.function_url_invokers : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/.+|user/.+)$", p))])
    error_message = "function_url_invokers must be IAM ARNs: arn:aws:iam::ACCOUNT:root, arn:aws:iam::ACCOUNT:role/NAME or arn:aws:iam::ACCOUNT:user/NAME. A wildcard is not a principal."
  }
}

variable "create_api_key_secret" {
  description = "Create the Secrets Manager secret <name>-api-keys that holds the API keys (its value is put outside Terraform: module README). The function reads it once at start and refuses to start if it cannot."
  type        = bool
  default     = true
}

variable "api_key_secret_arn" {
  description = "ARN of an existing Secrets Manager secret holding the API keys, instead of creating one. Empty: none (or the created one)."
  type        = string
  default     = ""

  validation {
    condition     = var.api_key_secret_arn == "" || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.api_key_secret_arn))
    error_message = "api_key_secret_arn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX)."
  }

  validation {
    condition     = !(var.create_api_key_secret && var.api_key_secret_arn != "")
    error_message = "Set either create_api_key_secret = true or api_key_secret_arn, not both."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer managed KMS key for the queues, the secret, the log group, the repository, the alarm topic and the function's environment. Empty: AWS managed keys (SQS-managed SSE, aws/secretsmanager, AES256 on ECR)."
  type        = string
  default     = ""

  validation {
    condition     = var.kms_key_arn == "" || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias."
  }
}

# ---------------------------------------------------------------------------------------
# Events: SQS queues and the event source mapping
# ---------------------------------------------------------------------------------------

variable "queue_visibility_timeout_seconds" {
  description = "Visibility timeout of the requests queue: how long a received batch stays hidden. AWS advises at least six times the function's timeout, so that retries after throttling do not redeliver a batch still being processed."
  type        = number
  default     = 180

  validation {
    condition     = var.queue_visibility_timeout_seconds >= 6 * var.timeout_seconds && var.queue_visibility_timeout_seconds <= 43200
    error_message = "queue_visibility_timeout_seconds must be at least six times timeout_seconds (AWS's guidance for Lambda event sources) and at most 43200."
  }
}

variable "max_receive_count" {
  description = "Deliveries of a request message before SQS moves it to the dead-letter queue (<name>-requests-dead-letter). Messages that can never succeed go to the errors queue at once; only retries count here."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number from 1 to 1000."
  }
}

variable "message_retention_seconds" {
  description = "How long the requests, results and errors queues keep a message (the dead-letter queue keeps 14 days)."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must lie between 60 and 1209600 (14 days)."
  }
}

variable "batch_size" {
  description = "Most messages per invocation from the requests queue (each message may hold up to MAX_BATCH_SIZE items)."
  type        = number
  default     = 10

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000 && floor(var.batch_size) == var.batch_size
    error_message = "batch_size must be a whole number from 1 to 10000."
  }

  validation {
    condition     = var.batch_size <= 10 || var.batching_window_seconds >= 1
    error_message = "A batch_size above 10 needs batching_window_seconds of 1 or more (an SQS rule)."
  }
}

variable "batching_window_seconds" {
  description = "How long the event source mapping gathers messages before it invokes (0: at once)."
  type        = number
  default     = 0

  validation {
    condition     = var.batching_window_seconds >= 0 && var.batching_window_seconds <= 300 && floor(var.batching_window_seconds) == var.batching_window_seconds
    error_message = "batching_window_seconds must be a whole number from 0 to 300."
  }
}

variable "max_concurrency" {
  description = "Most concurrent invocations the requests queue's event source mapping makes, leaving the rest of reserved_concurrency to HTTP callers."
  type        = number
  default     = 10

  validation {
    condition     = var.max_concurrency >= 2 && var.max_concurrency <= 1000 && floor(var.max_concurrency) == var.max_concurrency
    error_message = "max_concurrency must be a whole number from 2 to 1000."
  }

  validation {
    condition     = var.reserved_concurrency == -1 || var.max_concurrency <= var.reserved_concurrency
    error_message = "max_concurrency cannot exceed reserved_concurrency: the mapping would be throttled and messages would pile up."
  }
}

# ---------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------

variable "vpc_subnet_ids" {
  description = "Private subnets to run the function in (with a NAT or VPC endpoints for SQS, Secrets Manager, CloudWatch Logs). Empty: no VPC."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.vpc_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "vpc_subnet_ids must be subnet IDs (subnet-0123abcd...)."
  }
}

variable "vpc_id" {
  description = "The VPC of vpc_subnet_ids (its security group, egress only, is created there). Required with vpc_subnet_ids."
  type        = string
  default     = ""

  validation {
    condition     = (var.vpc_id == "") == (length(var.vpc_subnet_ids) == 0)
    error_message = "Set vpc_id and vpc_subnet_ids together, or neither."
  }

  validation {
    condition     = var.vpc_id == "" || can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must be a VPC ID (vpc-0123abcd...)."
  }
}

variable "egress_cidr_blocks" {
  description = "Where the function's security group lets it connect (HTTPS only): the AWS APIs it calls, through NAT or VPC endpoints."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

# ---------------------------------------------------------------------------------------
# Logs, alarms, dashboard
# ---------------------------------------------------------------------------------------

variable "log_retention_days" {
  description = "Retention of the function's log group. The logs hold counts, codes and timings, never patient text."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch Logs' values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (each confirms by e-mail). Other subscribers (PagerDuty, Chatbot) attach to the `alarm_topic_arn` output."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alarm_emails must be e-mail addresses."
  }
}

variable "runbook_base_url" {
  description = "URL of the docs/runbooks folder as on-call can open it (e.g. the repository's web view). Empty names each runbook by its path in the repository."
  type        = string
  default     = ""

  validation {
    condition     = var.runbook_base_url == "" || can(regex("^https://[^\\s]+[^/]$", var.runbook_base_url))
    error_message = "runbook_base_url must be an https:// URL without a trailing slash."
  }
}

variable "error_rate_threshold" {
  description = "Share of invocations (and of Function URL requests) ending in an error or a 5xx above which the error alarms fire."
  type        = number
  default     = 0.05

  validation {
    condition     = var.error_rate_threshold > 0 && var.error_rate_threshold < 1
    error_message = "error_rate_threshold must lie between 0 and 1."
  }
}

variable "duration_alarm_fraction" {
  description = "p95 duration above this fraction of the timeout fires the duration alarm."
  type        = number
  default     = 0.8

  validation {
    condition     = var.duration_alarm_fraction > 0 && var.duration_alarm_fraction < 1
    error_message = "duration_alarm_fraction must lie between 0 and 1."
  }
}

variable "concurrency_alarm_fraction" {
  description = "Concurrent executions at this fraction of reserved_concurrency fire the concurrency alarm (not created without a reservation)."
  type        = number
  default     = 0.8

  validation {
    condition     = var.concurrency_alarm_fraction > 0 && var.concurrency_alarm_fraction <= 1
    error_message = "concurrency_alarm_fraction must lie in (0, 1]."
  }
}

variable "cold_start_threshold_ms" {
  description = "p95 init duration (REPORT lines' Init Duration) above which the cold-start alarm fires."
  type        = number
  default     = 10000

  validation {
    condition     = var.cold_start_threshold_ms >= 500
    error_message = "cold_start_threshold_ms must be at least 500."
  }
}

variable "oldest_message_age_seconds" {
  description = "Age of the oldest message waiting on the requests queue above which the backlog alarm fires."
  type        = number
  default     = 600

  validation {
    condition     = var.oldest_message_age_seconds >= 60
    error_message = "oldest_message_age_seconds must be at least 60."
  }
}

variable "low_confidence_share_threshold" {
  description = "Share of low-confidence predictions in an hour (with at least 50 predictions) above which the drift alarm fires."
  type        = number
  default     = 0.3

  validation {
    condition     = var.low_confidence_share_threshold > 0 && var.low_confidence_share_threshold < 1
    error_message = "low_confidence_share_threshold must lie between 0 and 1."
  }
}

# ---------------------------------------------------------------------------------------
# Delivery: the release pipeline's role (Cloud Build federated to AWS)
# ---------------------------------------------------------------------------------------

variable "deployer_google_service_account_id" {
  description = "Unique ID (21 digits, `gcloud iam service-accounts describe EMAIL --format='value(uniqueId)'`) of the Google service account that runs cloudbuild-lambda.yaml. Creates the role <name>-deployer that this account assumes with its Google ID token (web identity federation: no long-lived AWS key). Empty: no role."
  type        = string
  default     = ""

  validation {
    condition     = var.deployer_google_service_account_id == "" || can(regex("^[0-9]{21}$", var.deployer_google_service_account_id))
    error_message = "deployer_google_service_account_id must be the service account's 21-digit unique ID (not its e-mail)."
  }
}

# Every group of knobs set, with placeholder account IDs and ARNs (replace each one).
#
#   terraform apply -var-file=examples/complete.tfvars
region = "eu-west-1"
name   = "clinical-assertion"
tags   = { team = "clinical-nlp", cost-center = "research" }

# Function
memory_mb               = 3538
timeout_seconds         = 30
ephemeral_storage_mb    = 512
architecture            = "x86_64"
reserved_concurrency    = 40
provisioned_concurrency = 2
tracing_mode            = "Active"
ecr_keep_images         = 30

# Service settings
precision                = "auto"
log_level                = "INFO"
low_confidence_threshold = 0.6
extra_env                = { MAX_BATCH_SIZE = "64", BATCH_MAX_ITEMS = "32" }

# HTTP: signed callers from the pipeline account; keys in the secret this module creates.
function_url_enabled   = true
function_url_auth_type = "AWS_IAM"
function_url_invokers  = ["arn:aws:iam::210987654321:role/clinical-pipeline"]
create_api_key_secret  = true

# Encryption with a customer managed key (its policy must let Lambda, SQS, Secrets Manager,
# CloudWatch Logs, ECR and CloudWatch alarms (SNS) use it).
kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/0f1e2d3c-4b5a-6978-8897-a6b5c4d3e2f1"

# Events
queue_visibility_timeout_seconds = 180
max_receive_count                = 5
message_retention_seconds        = 345600
batch_size                       = 10
batching_window_seconds          = 1
max_concurrency                  = 20

# Network: private subnets with VPC endpoints (SQS, Secrets Manager, Logs, KMS).
vpc_id             = "vpc-0123456789abcdef0"
vpc_subnet_ids     = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
egress_cidr_blocks = ["10.20.0.0/16"]

# On-call
log_retention_days             = 365
alarm_emails                   = ["oncall@example.org", "clinical-nlp@example.org"]
runbook_base_url               = "https://github.com/acme/clinical-assertion/blob/main/docs/runbooks"
error_rate_threshold           = 0.05
duration_alarm_fraction        = 0.8
concurrency_alarm_fraction     = 0.8
cold_start_threshold_ms        = 10000
oldest_message_age_seconds     = 600
low_confidence_share_threshold = 0.3

# Delivery: the Cloud Build service account (its unique ID) that releases the function.
deployer_google_service_account_id = "112233445566778899001"

# The least a first deployment sets: the region and who hears the alarms. Everything else
# keeps its default: a private Function URL (AWS_IAM), API keys from the secret this module
# creates, SQS-managed encryption, 2 vCPUs (3538 MB).
#
#   terraform apply -var-file=examples/minimal.tfvars
region       = "eu-west-1"
alarm_emails = ["oncall@example.org"]

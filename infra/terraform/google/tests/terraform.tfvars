# Variables every test file starts from (terraform test reads this file); a file or run block
# overrides what it needs.
project_id          = "acme-clinical-nlp"
image               = "europe-west1-docker.pkg.dev/acme-clinical-nlp/clinical-assertion/function:1.0.0"
notification_emails = ["oncall@example.org"]

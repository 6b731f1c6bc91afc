# Variables every test file starts from (terraform test reads this file); a file or run block
# overrides what it needs.
region       = "eu-west-1"
alarm_emails = ["oncall@example.org"]

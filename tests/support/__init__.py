"""Test support: builders of real (small) models, real servers, and local stand-ins for the
services these machines cannot reach (the Hugging Face hub, Secret Manager, the Lambda
service). Nothing here stands in for our own code."""

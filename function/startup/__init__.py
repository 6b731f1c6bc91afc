"""Start-up: what every entry point does once per process before it serves.

`settings` reads and validates the environment; `keys` loads the API keys from their sources
(the environment, Google Secret Manager in `secret_manager`); `service` opens and checks the
model folder and loads the model (after gunicorn's fork under Functions Framework, at import
on Lambda). It imports the core and no adapter: the adapters receive what it built.
"""

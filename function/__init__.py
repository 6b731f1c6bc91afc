"""Clinical assertion classification (PRESENT / ABSENT / POSSIBLE) as a serverless function.

Rooms: `function.core` runs the model and knows no transport; `function.startup` reads the
configuration, loads the API keys and the model once per process; `function.api` is the one
HTTP surface; `function.events` holds one adapter per shape of event (Pub/Sub, SQS, Lambda's
HTTP events). `function.main` (Functions Framework) and `function.lambda_handler` (AWS Lambda)
are the entry points, the only modules that know their platform. The rules between the rooms
are import contracts in pyproject.toml, checked by `make lint`.
"""

__version__ = "0.1.0"

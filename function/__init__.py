"""Clinical assertion classification (PRESENT / ABSENT / POSSIBLE) as a serverless function.

The core (markers, tokenization, classifier, backends, model folder) imports no web
framework and no cloud SDK; `function.api` is the one HTTP surface; `function.main`
(Functions Framework) and `function.lambda_handler` (AWS Lambda) are the entry points.
"""

__version__ = "0.1.0"

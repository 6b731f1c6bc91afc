"""The core: everything that runs the model and knows no transport.

The model folder and its checks (`model_folder`, `variant_check`), the input contract
(`markers`, `items`, `tokenization`), inference (`classifier`, `batching`, `backends/`), the
message contract every event adapter shares (`messages`), structured logs (`logs`), the CPU
(`cpus`) and the errors with their stable codes (`errors`). Nothing here imports a web
framework, a serverless runtime or a cloud SDK: `make lint` checks it (see pyproject.toml,
[tool.importlinter]). Adapters (`function.api`, `function.events`) import the core; the core
imports none of them.
"""

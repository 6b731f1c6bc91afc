"""Build time: turn a pinned model revision (from the hub or a local copy) into a verified,
self-describing model folder for the runtime (see `function.core.model_folder`)."""

BAKE_VERSION = "3.2.0"
DEFAULT_MODEL_ID = "bvanaken/clinical-assertion-negation-bert"
# The newest commit of the model repository seen (see docs/model.md); a full sha, never a
# branch, so that every build bakes the same bytes.
DEFAULT_REVISION = "bc4f03ba2923e41f3f4f03bfd7ad15b0ef25b8d5"

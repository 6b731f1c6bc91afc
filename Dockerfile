# The clinical assertion function: weights baked in at build time, served without torch.
#
#   docker build -t assertion .                       # HTTP (Cloud Run), bakes the pinned revision
#   docker build --target lambda -t assertion-lambda .    # AWS Lambda container image
#   docker build --target bulk -t assertion-bulk .        # the Beam pipeline (python -m function.bulk)
#   docker build --target dataflow -t assertion-dataflow .  # the same, as a Dataflow custom container
#
# The same image serves the Pub/Sub target: run it with FUNCTION_TARGET=predict_pubsub,
# FUNCTION_SIGNATURE_TYPE=cloudevent and FUNCTION_USE_ASGI=false.
# Air-gapped builds: put a copy of the model repository in ./model-source and build with
# --build-arg MODEL_SOURCE=local; point FIND_LINKS at a folder of wheels mounted at build.

# Python 3.11: the version every pin in requirements*.txt is tested with.
# checkov:skip=CKV_DOCKER_7: the base is a build argument; checkov cannot see that its default is a pinned tag
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS base
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1
WORKDIR /build

# --- build time: everything the bake needs (torch, transformers, onnx) --------------------
FROM base AS bake-deps
# The CPU build of torch: PyPI's default build pulls several GB of CUDA libraries.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# A folder of wheels (mounted into the build) to install from before any index.
ARG FIND_LINKS=
# A CA bundle for pip, for builds behind an intercepting proxy (mount it, name it here).
ARG PIP_CERT=
COPY requirements.txt ./
RUN if [ -z "$PIP_CERT" ]; then unset PIP_CERT; fi \
    && python3 -m venv /opt/bake \
    && /opt/bake/bin/pip install \
        ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} \
        ${FIND_LINKS:+--find-links "$FIND_LINKS"} \
        -r requirements.txt

FROM bake-deps AS bake
ARG MODEL_ID=bvanaken/clinical-assertion-negation-bert
ARG MODEL_REVISION=bc4f03ba2923e41f3f4f03bfd7ad15b0ef25b8d5
# hub: download MODEL_ID@MODEL_REVISION. local: bake ./model-source from the build context
# (its revision from MODEL_LOCAL_REVISION when given, else a digest of its files).
ARG MODEL_SOURCE=hub
ARG MODEL_LOCAL_REVISION=
ARG MIN_AGREEMENT=0.995
# Which variants the image carries: auto (what PRECISION=auto may serve: int8 when it passed
# its gate, and fp32, which a process falls back on where int8 fails its start-up check on the
# host's CPU), int8 or fp32 alone (smaller; nothing to fall back on), or all.
ARG SERVE_PRECISION=auto
ARG HF_ENDPOINT=
COPY function ./function
COPY model_bake ./model_bake
# The bracket makes the folder optional: a glob that matches nothing copies nothing.
COPY requirements.txt model-sourc[e] ./model-source/
RUN if [ -z "$HF_ENDPOINT" ]; then unset HF_ENDPOINT; fi \
    && if [ "$MODEL_SOURCE" = local ]; then \
        set -- --from-dir ./model-source ${MODEL_LOCAL_REVISION:+--revision "$MODEL_LOCAL_REVISION"}; \
    else \
        set -- --revision "$MODEL_REVISION"; \
    fi \
    && /opt/bake/bin/python -m model_bake --model-id "$MODEL_ID" "$@" \
        --min-agreement "$MIN_AGREEMENT" --out /build/model \
    && /opt/bake/bin/python -m model_bake.trim /build/model --backend onnx --precision "$SERVE_PRECISION"

# --- run time: the onnx backend's dependencies only --------------------------------------
FROM base AS serve-deps
ARG FIND_LINKS=
ARG PIP_CERT=
COPY requirements-serve.txt ./
RUN if [ -z "$PIP_CERT" ]; then unset PIP_CERT; fi \
    && python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install ${FIND_LINKS:+--find-links "$FIND_LINKS"} -r requirements-serve.txt

FROM base AS serving
COPY --from=serve-deps /opt/venv /opt/venv
COPY --from=bake /build/model /app/model
COPY function /app/function
RUN /opt/venv/bin/python -m compileall -q /app/function \
    && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin assertion
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    MODEL_DIR=/app/model \
    HF_HUB_OFFLINE=1 \
    PORT=8080 \
    WORKERS=1 \
    FUNCTION_TARGET=predict_http \
    FUNCTION_SIGNATURE_TYPE=http \
    FUNCTION_USE_ASGI=true
WORKDIR /app
USER 10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["python", "-m", "function.healthcheck"]
# gunicorn is PID 1 and handles SIGTERM: it stops accepting, finishes in-flight requests
# within its graceful timeout, and exits 0.
CMD ["functions-framework", "--source", "function/main.py"]

# --- AWS Lambda: the same serving image behind the runtime interface client ----------------
FROM serving AS lambda
USER 0
ARG FIND_LINKS=
ARG PIP_CERT=
COPY requirements-lambda.txt /tmp/
RUN if [ -z "$PIP_CERT" ]; then unset PIP_CERT; fi \
    && /opt/venv/bin/pip install ${FIND_LINKS:+--find-links "$FIND_LINKS"} -r /tmp/requirements-lambda.txt \
    && rm /tmp/requirements-lambda.txt
USER 10001
ENTRYPOINT ["python", "-m", "awslambdaric"]
CMD ["function.lambda_handler.handler"]

# --- Bulk: the Beam pipeline over the same baked model, in Beam's own environment -------------
FROM base AS beam-deps
ARG FIND_LINKS=
ARG PIP_CERT=
COPY requirements-beam.txt ./
RUN if [ -z "$PIP_CERT" ]; then unset PIP_CERT; fi \
    && python3 -m venv /opt/beam \
    && /opt/beam/bin/pip install ${FIND_LINKS:+--find-links "$FIND_LINKS"} -r requirements-beam.txt

FROM base AS bulk
COPY --from=beam-deps /opt/beam /opt/beam
COPY --from=bake /build/model /app/model
COPY function /app/function
RUN /opt/beam/bin/python -m compileall -q /app/function \
    && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin assertion
ENV PATH=/opt/beam/bin:$PATH \
    PYTHONPATH=/app \
    MODEL_DIR=/app/model \
    HF_HUB_OFFLINE=1
WORKDIR /app
USER 10001
ENTRYPOINT ["python", "-m", "function.bulk"]

# Dataflow's workers start a custom container through Beam's boot program, taken from the SDK
# image of the same Beam version (a registry must be reachable to build this target).
FROM bulk AS dataflow
COPY --from=apache/beam_python3.11_sdk:2.77.0 /opt/apache/beam /opt/apache/beam
ENTRYPOINT ["/opt/apache/beam/boot"]

# --- Cloud Run: the default target, last so that a plain build produces it ------------------
FROM serving AS runtime

# Daily tasks. Every target works from a fresh clone: the first one that needs Python
# creates .venv and installs the pinned requirements into it.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8080
MODEL_ID ?= bvanaken/clinical-assertion-negation-bert
MODEL_REVISION ?= bc4f03ba2923e41f3f4f03bfd7ad15b0ef25b8d5
BAKED_DIR ?= model
DEMO_DIR ?= .demo-model
TOOLS_VENV ?= .tools-venv
# The bulk adapter's environment (Apache Beam needs protobuf < 7: it cannot share .venv).
BEAM_VENV ?= .venv-beam
# OpenVINO and NNCF, for the runtime comparison only: layered over .venv (make bench-openvino).
OPENVINO_VENV ?= .venv-openvino
export PYTHONPATH := $(CURDIR)
# Checkers kept out of the runtime venv (their pins clash with ours): found when installed.
export PATH := $(CURDIR)/$(TOOLS_VENV)/bin:$(PATH)

.PHONY: help venv beam-venv bulk lock-beam tools bake serve serve-pubsub serve-demo demo-model test image-test bench bench-openvino soak lint format lock tf-check clean

help:
	@echo "make serve        serve on PORT=$(PORT) the folder in MODEL_DIR (unset: bake $(MODEL_ID) into ./$(BAKED_DIR) first)"
	@echo "make serve-pubsub the Pub/Sub CloudEvent target on PORT (needs GOOGLE_CLOUD_PROJECT, RESULTS_TOPIC, ERRORS_TOPIC)"
	@echo "make serve-demo   serve a small random-weight demo model (no hub access needed)"
	@echo "make demo-model   build and bake that demo model into $(DEMO_DIR) (serve-demo does it first)"
	@echo "make test         run the test suite (everything but the image tests; installs $(BEAM_VENV) for the bulk tests)"
	@echo "make bulk         INPUT='corpus/*.jsonl' OUTPUT=out: the bulk pipeline on Beam's DirectRunner (BEAM_ARGS for others)"
	@echo "make beam-venv    create $(BEAM_VENV), the bulk adapter's environment (requirements-beam.txt)"
	@echo "make image-test   build both images with podman and run them (BASE_IMAGE=... to skip building a base)"
	@echo "make bench        measure cold start, latency, throughput and memory against the naive baseline (bench/results.md)"
	@echo "make bench-openvino  OpenVINO (fp32, NNCF int8) against the served ONNX Runtime int8, in-process (bench/runtimes.py)"
	@echo "make soak         the int8 service at concurrency 64 for 10 minutes: 0 errors, p99 and memory stable (SOAK_ARGS=...)"
	@echo "make bake         bake MODEL_ID@MODEL_REVISION (or FROM_DIR=... [REVISION=...]) into BAKED_DIR"
	@echo "make lint         ruff (check and format), mypy, and the import contracts between the rooms"
	@echo "make format       ruff format and autofix"
	@echo "make tf-check     terraform fmt/validate/test and checkov for infra/terraform/google and aws (\"incomplete\" if a step could not run)"
	@echo "make lock         regenerate requirements.txt and requirements-serve.txt from their .in files"
	@echo "make lock-beam    regenerate requirements-beam.txt from requirements-beam.in"
	@echo "make tools        install checkov and hadolint (for tf-check, the Dockerfile and infra tests) into $(TOOLS_VENV)"
	@echo "make venv         create .venv with the pinned requirements (every other target does it first)"
	@echo "make clean        remove the demo model and caches"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

tools: $(TOOLS_VENV)/.installed

$(TOOLS_VENV)/.installed: requirements-tools.txt
	test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet -r requirements-tools.txt
	touch $@

bake: venv
	$(BIN)/python -m model_bake --out $(BAKED_DIR) --model-id $(MODEL_ID) \
		$(if $(FROM_DIR),--from-dir $(FROM_DIR) $(if $(REVISION),--revision $(REVISION)),--revision $(MODEL_REVISION))

# MODEL_DIR set: serve that folder as it is. Unset: bake the pinned model into ./model first
# (a no-op when it is already there).
serve: venv $(if $(MODEL_DIR),,bake)
	MODEL_DIR=$(or $(MODEL_DIR),$(BAKED_DIR)) WORKERS=1 $(BIN)/functions-framework \
		--source function/main.py --target predict_http --asgi --port $(PORT)

# The CloudEvent target runs on Functions Framework's Flask stack (no --asgi): only that
# stack turns a push subscription's plain envelope into a CloudEvent. With
# PUBSUB_EMULATOR_HOST set, results go to the emulator.
serve-pubsub: venv $(if $(MODEL_DIR),,bake)
	MODEL_DIR=$(or $(MODEL_DIR),$(BAKED_DIR)) WORKERS=1 $(BIN)/functions-framework \
		--source function/main.py --target predict_pubsub --signature-type cloudevent --port $(PORT)

demo-model: venv
	test -f $(DEMO_DIR)/source/config.json || $(BIN)/python -c "from pathlib import Path; \
		from tests.support.models import build_bert_folder; build_bert_folder(Path('$(DEMO_DIR)/source'))"
	$(BIN)/python -m model_bake --from-dir $(DEMO_DIR)/source --out $(DEMO_DIR)/baked --model-id local/random-demo-bert

serve-demo: demo-model
	$(MAKE) serve MODEL_DIR=$(DEMO_DIR)/baked

test: venv
	@$(MAKE) --no-print-directory beam-venv || echo "the Beam environment could not be installed: the bulk tests will skip"
	BEAM_PYTHON=$(CURDIR)/$(BEAM_VENV)/bin/python $(BIN)/python -m pytest -q $(PYTEST_ARGS)

beam-venv: $(BEAM_VENV)/.installed

$(BEAM_VENV)/.installed: requirements-beam.txt
	test -x $(BEAM_VENV)/bin/python || $(PYTHON) -m venv $(BEAM_VENV)
	$(BEAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BEAM_VENV)/bin/python -m pip install --quiet -r requirements-beam.txt
	touch $@

bulk: venv beam-venv
	test -n "$(INPUT)" -a -n "$(OUTPUT)" || { echo "usage: make bulk INPUT='corpus/*.jsonl' OUTPUT=out [MODEL_DIR=...] [BEAM_ARGS=...]"; exit 2; }
	MODEL_DIR=$${MODEL_DIR:-$(BAKED_DIR)} $(BEAM_VENV)/bin/python -m function.bulk --input '$(INPUT)' --output '$(OUTPUT)' $(BEAM_ARGS)

image-test: venv
	$(BIN)/python -m pytest -q -m image tests/image $(PYTEST_ARGS)

bench: venv
	@$(MAKE) --no-print-directory beam-venv || echo "the Beam environment could not be installed: the bulk measurement will be skipped"
	BEAM_PYTHON=$(CURDIR)/$(BEAM_VENV)/bin/python $(BIN)/python -m bench.run $(BENCH_ARGS)

# The OpenVINO lever (issue 13): its own venv layered over .venv, so the serving pins stay
# as they are and only openvino, nncf and what they add are installed beside them.
bench-openvino: $(OPENVINO_VENV)/.installed
	$(OPENVINO_VENV)/bin/python -m bench.runtimes

$(OPENVINO_VENV)/.installed: requirements-openvino.txt $(VENV)/.installed
	test -x $(OPENVINO_VENV)/bin/python || $(PYTHON) -m venv $(OPENVINO_VENV)
	$(BIN)/python -c "import site; print(site.getsitepackages()[0])" > \
		"$$($(OPENVINO_VENV)/bin/python -c 'import site; print(site.getsitepackages()[0])')/dotvenv.pth"
	$(OPENVINO_VENV)/bin/python -m pip install --quiet -r requirements-openvino.txt
	$(OPENVINO_VENV)/bin/opt_in_out --opt_out >/dev/null || true  # no usage telemetry from a bench
	touch $@

# Ten minutes of steady load on one int8 server (wrk): exits 1 when a criterion is missed, 2
# when it could not run. Figures in bench/soak.json and bench/results.md.
soak: venv
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

# The rules between the rooms are checked here, not only written down: ruff, mypy on the
# run-time and build-time packages, and the import contracts of pyproject.toml
# ([tool.importlinter]: the core imports no transport, the adapters not each other).
lint: venv
	$(BIN)/ruff check function model_bake tests bench
	$(BIN)/ruff format --check function model_bake tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff format function model_bake tests bench
	$(BIN)/ruff check --fix function model_bake tests bench

tf-check:
	bash infra/terraform/check.sh

# Resolve requirements.in in a scratch venv and pin everything it installed; then pin the
# serving subset at the same versions.
lock-beam:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -r requirements-beam.in
	{ echo "# Pinned environment of the bulk adapter, frozen from requirements-beam.in (make lock-beam)."; \
	  echo "# Do not edit by hand."; \
	  .lock-venv/bin/pip freeze | grep -v '^pip=='; } > requirements-beam.txt
	rm -rf .lock-venv

lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -r requirements.in
	{ echo "# Pinned runtime and bake dependencies, generated by \`make lock\` from requirements.in."; \
	  echo "# Do not edit by hand."; \
	  .lock-venv/bin/pip freeze | grep -v '^pip==' | sed 's/^torch==\([0-9.]*\)+cpu$$/torch==\1/'; } > requirements.txt
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -r requirements-serve.in -c requirements.txt
	{ echo "# Pinned serving dependencies (onnx backend), generated by \`make lock\` from requirements-serve.in"; \
	  echo "# at the versions of requirements.txt. Do not edit by hand."; \
	  .lock-venv/bin/pip freeze | grep -v '^pip=='; } > requirements-serve.txt
	rm -rf .lock-venv

clean:
	rm -rf $(DEMO_DIR) .pytest_cache .ruff_cache

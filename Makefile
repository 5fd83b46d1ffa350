# The two commands a user needs: `make pipeline` and `make test`; `make quick` runs the whole DAG at small
# size first, `make sync` tells Snakemake what DVC ran. Each sets up the environment first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup pipeline test lint sync quick clean-env

setup: $(STAMP)

# torch comes first and exactly pinned: the CPU wheel then satisfies CityLearn's unpinned torch.
$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0 torchvision==0.28.0
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check
	touch $(STAMP)

pipeline: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores all

# The tests on every core (pytest-xdist): the suite is a few hundred tests around one long smoke
# run of the whole pipeline, which then runs beside the others; `worksteal` lets an idle core take
# the tests queued behind it (xdist's `load` leaves them waiting for the smoke run to end).
test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q -n auto --dist worksteal

# The code's habits, as pyproject.toml configures them: ruff's rules and layout on the Python, snakefmt's
# layout on the Snakefile and its rules. CI runs it before the tests: seconds, where the tests take minutes.
lint: $(STAMP)
	$(BIN)/ruff check src tests scripts workflow
	$(BIN)/ruff format --check src tests scripts workflow
	$(BIN)/snakefmt --check Snakefile workflow

# The whole pipeline, every stage, at small size (workflow/quick.yaml over params.yaml) in quick/, a
# fresh copy of the repository: minutes, and the records in data/ and results/ are left alone.
quick: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/quick.py

# After `dvc repro` or `dvc exp run`, tell Snakemake its outputs are current (Snakemake itself records
# its runs in dvc.lock when it finishes, so the other direction needs nothing).
sync: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --touch --cores 1 --quiet

clean-env:
	rm -rf $(VENV)

# Set-up and everyday commands. Everything runs from a virtual environment
# in .venv that the first target creates; only python3, the PostgreSQL and
# Redis server binaries and the package registries are needed.

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install up down status demo test test-faults bench proto clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	$(VPY) -m devstack up

down: $(STAMP)
	$(VPY) -m devstack down

status: $(STAMP)
	$(VPY) -m devstack status

demo: $(STAMP)
	$(VPY) -m devstack demo

test: $(STAMP)
	$(VPY) -m pytest

bench: $(STAMP)
	$(VPY) -m bench.harness

test-faults: $(STAMP)
	$(VPY) -m pytest -m faults tests/faults

proto: $(STAMP)
	$(VPY) proto/generate.py

clean:
	rm -rf .run

# The README's two commands. Each creates .venv and installs the course into it first.
#   make demo   trains a conditional DCGAN and writes its models and pictures to runs/cdcgan
#   make test   runs every test: the unit tests, and each notebook with nbval in quick mode
PYTHON ?= python3
VENV := .venv
INSTALLED := $(VENV)/.installed

.PHONY: demo test

$(INSTALLED): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements.txt
	touch $@

demo: $(INSTALLED)
	$(VENV)/bin/python -m ganutils train cdcgan --steps 3000 --seed 0 --out runs/cdcgan

test: $(INSTALLED)
	GANUTILS_QUICK=1 $(VENV)/bin/python -m pytest --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

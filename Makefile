# The README's two commands. Each creates .venv and installs the course into it first.
#   make demo   trains lesson 4's conditional DCGAN and writes its models and pictures to runs/cdcgan
#   make test   runs every test: the unit tests and each notebook (nbval, quick mode; in the repository
#               and copied alone into an empty folder) on TensorFlow,
#               the unit tests again on JAX, and on PyTorch where torch is installed
PYTHON ?= python3
VENV := .venv
INSTALLED := $(VENV)/.installed
TEST_INSTALLED := $(VENV)/.test-installed
NBVAL := --nbval --nbval-current-env

.PHONY: demo test

$(INSTALLED): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements.txt
	touch $@

# The tests also run on JAX, for the CPU: its extra (about 100 MB) is installed for them.
$(TEST_INSTALLED): $(INSTALLED)
	$(VENV)/bin/python -m pip install --quiet -e ".[jax]"
	touch $@

demo: $(INSTALLED)
	@echo "make demo: training into runs/cdcgan, replacing the run it holds (an earlier demo's, or any other)"
	$(VENV)/bin/python -m ganutils train cdcgan --out runs/cdcgan --overwrite

test: $(TEST_INSTALLED)
	KERAS_BACKEND=tensorflow $(VENV)/bin/python -m pytest $(NBVAL)
	KERAS_BACKEND=jax $(VENV)/bin/python -m pytest tests
	@if $(VENV)/bin/python -c "import torch" 2>/dev/null; then \
		KERAS_BACKEND=torch $(VENV)/bin/python -m pytest tests; \
	else \
		echo "PyTorch is not installed in $(VENV): its run of the unit tests is skipped (pip install -e '.[torch]' adds it)"; \
	fi

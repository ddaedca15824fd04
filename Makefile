# The two set-up commands: `make demo` and `make test`. Both build .venv from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TEST_STAMP := $(VENV)/.installed-test
DEMO_STAMP := $(VENV)/.installed-demo
COMPAT := .venv-compat
COMPAT_STAMP := $(COMPAT)/.installed
SANDBOX_PORT ?= 8765
LAB_PORT ?= 8888

.PHONY: test lint bench demo clean compat kernel39 wheel dist

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[demo]'
	touch $@

# The oldest supported stack (JupyterLab 3.6, ipywidgets 7.8, ipykernel 6, IPython 7.34), as
# ModelArts notebook images ship it: tests/browser drives its JupyterLab, and the magic tests run
# in it too. The stamp keeps `make test` from re-running pip every time.
$(COMPAT_STAMP): pyproject.toml tests/browser/compat_env.sh
	PYTHON=$(PYTHON) COMPAT_VENV=$(COMPAT) bash tests/browser/compat_env.sh
	touch $@

compat: $(COMPAT_STAMP)

# The sdist and the wheel, built as a user or an index would (isolated, hatchling from PyPI),
# and their metadata checked: the README renders as the long description, licence included.
dist: $(TEST_STAMP)
	rm -f dist/modelarts_nb-*.whl dist/modelarts_nb-*.tar.gz
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/modelarts_nb-*.whl dist/modelarts_nb-*.tar.gz

# The wheel users install into a kernel: `%pip install dist/modelarts_nb-*.whl`.
wheel:
	$(PYTHON) -m pip wheel -q --no-deps -w dist .

# The 3.9 kernel suite in a debootstrapped Debian 11 root (needs root and debootstrap).
kernel39:
	bash tests/kernel39/run.sh

lint: $(TEST_STAMP)
	$(BIN)/ruff check modelarts_nb tests benchmarks
	$(BIN)/mypy modelarts_nb

test: lint compat
	bash tests/kernel39/run.sh --if-possible
	$(BIN)/python -m pytest -q
	$(COMPAT)/bin/python -m pytest -q -p no:cacheprovider tests/test_magic.py tests/test_panel.py tests/test_bulk.py tests/test_impact.py tests/test_completion.py tests/test_pools_panel.py tests/test_selection.py tests/test_receipts.py tests/test_single_pool_status_and_words.py tests/test_display.py tests/test_theme_contrast.py
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbval --nbval-current-env --nbval-sanitize-with tests/notebooks/sanitize.cfg notebooks/

bench: $(TEST_STAMP)
	$(BIN)/python -m benchmarks
	bash tests/kernel39/run.sh --bench

# Starts the sandbox API and JupyterLab on notebooks/, both on 127.0.0.1 only, and prints a URL
# whose token opens JupyterLab directly (python -m modelarts_nb.sandbox.demo --help). The demo's
# Jupyter config, runtime files and settings (widget state saved) stay under .venv/.
demo: $(DEMO_STAMP)
	$(BIN)/python -m modelarts_nb.sandbox.demo --lab-port $(LAB_PORT) \
	  --sandbox-port $(SANDBOX_PORT) --notebook-dir notebooks \
	  --state-dir $(VENV)/demo --settings-dir $(VENV)/demo-settings

clean:
	rm -rf $(VENV) $(COMPAT) .kernel39 .pytest_cache .mypy_cache .ruff_cache test-artifacts

# The two set-up commands: `make demo` and `make test`. Both build .venv from nothing.
PYTHON ?= python3
# Bytecode is written, whatever the shell says: with PYTHONDONTWRITEBYTECODE=1 (set on some
# machines) every test process and kernel would compile each module it imports again, and
# pytest would rewrite every test file's asserts again in each worker (~100 s of CPU a run).
unexport PYTHONDONTWRITEBYTECODE
VENV := .venv
BIN := $(VENV)/bin
TEST_STAMP := $(VENV)/.installed-test
DEMO_STAMP := $(VENV)/.installed-demo
COMPAT := .venv-compat
COMPAT_STAMP := $(COMPAT)/.installed
SANDBOX_PORT ?= 8765
LAB_PORT ?= 8888
POOLS ?= 3
# pytest-xdist workers of each suite. Their tests mostly wait (on loopback sandboxes, kernels,
# timers), but while the browser lane runs both cores are busy, and more workers then only add
# processes (each collects every test) and timing noise: 2. The compat suite runs last, mostly
# after the browsers: 4. WORKERS=0 runs a suite in one process.
WORKERS ?= 2
COMPAT_WORKERS ?= 4
# pytest's cache and nbval's plugin stay off but where nbval runs (it imports nbformat and
# jupyter_client in every process, workers included)
NO_NBVAL := -p no:cacheprovider -p no:nbval
BROWSER_WORKERS ?= 2  # each a JupyterLab, a kernel and a Chromium
CHECK_WORKERS ?= 2

.PHONY: test setup screenshots lane-suites lane-browser lane-root lane-browser-kernel39 check lint bench demo clean compat kernel39 kernel39-root wheel dist \
  test-host test-browser test-browser-kernel39 test-kernel39 test-compat \
  test-nbval test-serial test-serial-host test-serial-compat test-serial-root

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# --no-compile: Python compiles what the tests import, when they first import it (compiling
# all ~8,000 files at install costs ~15 s of CPU an environment); see PYTHONDONTWRITEBYTECODE
# above.
$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --no-compile -e '.[test]'
	touch $@

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[demo]'
	touch $@

# The oldest supported stack (JupyterLab 3.6, ipywidgets 7.8, ipykernel 6, IPython 7.34), as
# ModelArts notebook images ship it: tests/browser drives its JupyterLab, and the magic tests run
# in it too. The stamp keeps `make test` from re-running pip every time.
$(COMPAT_STAMP): pyproject.toml tests/browser/compat_env.sh
	PYTHON=$(PYTHON) COMPAT_VENV=$(COMPAT) bash tests/browser/compat_env.sh
	$(COMPAT)/bin/pip freeze --exclude modelarts-nb > $(COMPAT)/stack.txt
	$(COMPAT)/bin/pip install -q --no-compile --disable-pip-version-check -c $(COMPAT)/stack.txt \
	  "pytest-xdist>=3.5" "hypothesis>=6" nbformat nbclient \
	  huaweicloudsdkcore==3.1.219 huaweicloudsdkmodelarts==3.1.219
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

kernel39-root:  # the root built (once) and this checkout's wheel installed in its kernel
	bash tests/kernel39/run.sh --if-possible --prepare

lint: $(TEST_STAMP)
	$(BIN)/ruff check modelarts_nb tests benchmarks
	$(BIN)/mypy modelarts_nb

# The inner loop (under 2 minutes): lint, then the fast tests on this venv: all but the slow
# ones (browsers, notebooks run in real kernels, packaging, the demo, and tests that take 3 s or
# more) and the timing-sensitive `serial` ones; tests/conftest.py names them.
check: lint
	$(BIN)/python -m pytest -q $(NO_NBVAL) -n $(CHECK_WORKERS) -m "not slow and not serial"

# Everything, in every environment, in three lanes side by side (the browsers compute, the
# suites mostly wait), then the timing-sensitive tests marked `serial`, each environment's in a
# process of its own (they wait on timers):
#   suites:  lint; the stackless files and the magic and panel tests on the newest stack; the
#            tutorials against their stored outputs (nbval); every stack file on the oldest
#            stack (compat)
#   browser: JupyterLab 4, Notebook 7 and JupyterLab 3.6 in Chromium; then, the root built
#            meanwhile, JupyterLab 3.6 driving a kernel in the 3.9 root
#   root:    once the 3.9 root is built, every stack file in it
test:
	$(MAKE) --no-print-directory -j4 -O lane-suites lane-root lane-browser-kernel39
	$(MAKE) --no-print-directory -j3 -O test-serial

# The three environments side by side (pip and debootstrap mostly wait on the network): this
# venv, the compat stack and the 3.9 root with this checkout's wheel in its kernel.
setup:
	$(MAKE) --no-print-directory -j3 $(TEST_STAMP) $(COMPAT_STAMP) kernel39-root

lane-suites: $(TEST_STAMP) $(COMPAT_STAMP)
	$(MAKE) --no-print-directory -j1 lint test-host test-nbval test-compat

lane-browser: $(TEST_STAMP) $(COMPAT_STAMP)
	$(MAKE) --no-print-directory test-browser

lane-root: kernel39-root
	$(MAKE) --no-print-directory test-kernel39

lane-browser-kernel39: lane-browser kernel39-root
	$(MAKE) --no-print-directory test-browser-kernel39

# The newest stack (this venv): the files that touch no notebook stack (tests/conftest.py's
# STACKLESS_FILES, run here only, in a process that fails if one of them imports pandas,
# IPython or ipywidgets after all), then the magic and panel tests (ipywidgets 8, IPython 9).
# Every other stack file runs in the 3.9 root and on the compat stack.
WIDGET_TESTS := tests/test_magic.py tests/test_panel.py tests/test_bulk.py tests/test_impact.py \
  tests/test_completion.py tests/test_pools_panel.py tests/test_selection.py tests/test_receipts.py \
  tests/test_single_pool_status_and_words.py tests/test_display.py tests/test_theme_contrast.py

test-host: $(TEST_STAMP)
	MODELARTS_NB_TESTS=stackless $(BIN)/python -m pytest -q $(NO_NBVAL) -n $(WORKERS) \
	  -m "not serial" tests
	$(BIN)/python -m pytest -q $(NO_NBVAL) -n $(WORKERS) -m "not serial" $(WIDGET_TESTS)

test-browser: $(TEST_STAMP) $(COMPAT_STAMP)
	$(BIN)/python -m pytest -q $(NO_NBVAL) -n $(BROWSER_WORKERS) \
	  -m "not serial and not kernel39_root" tests/browser

# These two need the root that kernel39-root builds (run.sh --suite says so if it is missing).
test-browser-kernel39: $(TEST_STAMP) $(COMPAT_STAMP)
	$(BIN)/python -m pytest -q $(NO_NBVAL) -m "kernel39_root" tests/browser

test-kernel39:
	KERNEL39_WORKERS=$(WORKERS) bash tests/kernel39/run.sh --if-possible --suite

# Every file that touches a notebook stack (all but conftest's STACKLESS_FILES) again, on the
# oldest stack (.venv-compat: ipywidgets 7.8, IPython 7.34, ipykernel 6, pandas as pip picks).
test-compat: $(COMPAT_STAMP)
	MODELARTS_NB_TESTS=stacks $(COMPAT)/bin/python -m pytest -q -p no:cacheprovider \
	  -n $(COMPAT_WORKERS) -m "not serial" --ignore=tests/browser tests

test-nbval: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbval --nbval-current-env --nbval-sanitize-with tests/notebooks/sanitize.cfg notebooks/

# pytest exits 5 when no test is selected: an environment may hold none of the serial tests.
# (The 3.9 root's are those of the kernel test-kernel39 installed.) `make -j3 test-serial` runs
# the three environments' side by side: the tests wait on timers, not on the processor.
test-serial: test-serial-host test-serial-compat test-serial-root

test-serial-host: $(TEST_STAMP)
	MODELARTS_NB_TESTS=serial $(BIN)/python -m pytest -q $(NO_NBVAL) -m serial tests

test-serial-compat: $(COMPAT_STAMP)
	MODELARTS_NB_TESTS=stacks+serial $(COMPAT)/bin/python -m pytest -q -p no:cacheprovider \
	  -m serial tests

test-serial-root:
	bash tests/kernel39/run.sh --if-possible --serial

bench: $(TEST_STAMP)
	$(BIN)/python -m benchmarks
	bash tests/kernel39/run.sh --bench

# Starts the sandbox API and JupyterLab, both on 127.0.0.1 only, and prints a URL
# whose token opens JupyterLab directly (python -m modelarts_nb.sandbox.demo --help). The demo's
# Jupyter config, runtime files and settings (widget state saved) stay under .venv/.
# The class works on copies of the tutorials (.venv/demo/notebooks; the tracked ones are never
# written); `make demo POOLS=500` seeds a class of 500.
demo: $(DEMO_STAMP)
	$(BIN)/python -m modelarts_nb.sandbox.demo --lab-port $(LAB_PORT) \
	  --sandbox-port $(SANDBOX_PORT) --notebook-dir $(VENV)/demo/notebooks --tutorials notebooks \
	  --pools $(POOLS) --state-dir $(VENV)/demo --settings-dir $(VENV)/demo-settings

# The README's screenshots (docs/*.png), from the browser tests that take them; `make test`
# writes its screenshots to test-artifacts/ and leaves the checkout as it found it.
screenshots: $(TEST_STAMP) $(COMPAT_STAMP)
	MODELARTS_NB_SCREENSHOTS=docs $(BIN)/python -m pytest -q -p no:cacheprovider tests/browser \
	  -k "500_pools or every_text or history_shows"

clean:
	rm -rf $(VENV) $(COMPAT) .kernel39 .pytest_cache .mypy_cache .ruff_cache test-artifacts

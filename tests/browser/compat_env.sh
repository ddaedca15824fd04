#!/usr/bin/env bash
# Builds .venv-compat: the oldest stack we support, as ModelArts notebook images ship it
# (JupyterLab 3.6, ipywidgets 7.8, ipykernel 6, IPython 7.34). Idempotent: re-running only
# re-checks the pins. The browser test only uses it; it never creates it (too slow in pytest).
#
#   bash tests/browser/compat_env.sh        # or: make compat
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${COMPAT_VENV:-.venv-compat}
PYTHON=${PYTHON:-python3}

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --no-compile --disable-pip-version-check \
  "ipywidgets==7.8.*" "ipython==7.34.*" "jupyterlab==3.6.*" "ipykernel==6.*" \
  "pandas>=1.1.5" "httpx>=0.24,<1" pytest
# --no-deps: the package itself, without letting pip upgrade the pinned stack above
"$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e .
"$VENV/bin/python" - <<'PY'
import IPython, ipykernel, ipywidgets, jupyterlab
print(f"compat env: jupyterlab {jupyterlab.__version__}, ipywidgets {ipywidgets.__version__}, "
      f"ipykernel {ipykernel.__version__}, IPython {IPython.__version__}")
PY

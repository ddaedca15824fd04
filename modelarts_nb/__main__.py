"""``python -m modelarts_nb``: the ``modelarts-nb`` command, for an environment whose scripts
directory is not on PATH (a notebook image's conda env, say)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

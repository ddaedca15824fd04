"""``modelarts-nb``: the command line for clean-up without a notebook (docs/command-line.md).

``command`` parses and dispatches, ``run`` applies a plan, ``common`` holds what both share.
"""

from __future__ import annotations

from .command import main

__all__ = ["main"]

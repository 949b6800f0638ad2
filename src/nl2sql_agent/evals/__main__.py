"""``python -m nl2sql_agent.evals``."""

from __future__ import annotations

import sys

from nl2sql_agent.evals.cli import main

if __name__ == "__main__":
    sys.exit(main())

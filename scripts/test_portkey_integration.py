#!/usr/bin/env python3
"""Step 3 of the spec: the six integration checks and portkey_test_results_<UTC timestamp>.json.

Same code as `sophia check`; the logic lives in app/cli/integration_check.py.
"""

import sys
from pathlib import Path

# Run as `python scripts/test_portkey_integration.py` from a checkout: make the `app` package importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.cli.integration_check import main

if __name__ == "__main__":
    sys.exit(main())

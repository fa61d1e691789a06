#!/usr/bin/env python3
"""Step 1 of the spec: write .env with the Portkey and provider keys (--help for options).

Same code as `sophia setup`; the logic lives in app/cli/setup_keys.py.
"""

import sys
from pathlib import Path

# Run as `python scripts/setup_portkey_keys.py` from a checkout: make the `app` package importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.cli.setup_keys import main

if __name__ == "__main__":
    sys.exit(main())

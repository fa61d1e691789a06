#!/usr/bin/env python3
"""Step 3 of the spec: the six integration checks and portkey_test_results_<UTC timestamp>.json.

Same code as `sophia check`; the logic lives in app/cli/integration_check.py.
"""

import sys

from project_python import use_project_python

if __name__ == "__main__":
    use_project_python(__file__)  # the project's .venv, whichever `python` was typed
    from app.cli.integration_check import main

    sys.exit(main())

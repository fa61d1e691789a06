#!/usr/bin/env python3
"""Step 1 of the spec: write .env with the Portkey and provider keys (--help for options).

Same code as `sophia setup`; the logic lives in app/cli/setup_keys.py.
"""

import sys

from project_python import use_project_python

if __name__ == "__main__":
    use_project_python(__file__)  # the project's .venv, whichever `python` was typed
    from app.cli.setup_keys import main

    sys.exit(main())

"""Container health probe: GET a URL on this container with the first of SOPHIA_API_KEYS as bearer token.

    python /opt/sophia/probe.py http://127.0.0.1:8000/health

Exit 0 on a 2xx answer, 1 otherwise (``/health`` answers 503 when the system is down).
"""

import os
import sys
import urllib.request

url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000/health"
request = urllib.request.Request(url)
token = os.environ.get("SOPHIA_API_KEYS", "").split(",")[0].strip()
if token:
    request.add_header("Authorization", f"Bearer {token}")
try:
    with urllib.request.urlopen(request, timeout=10) as response:
        sys.exit(0 if 200 <= response.status < 300 else 1)
except Exception as exc:  # noqa: BLE001 - any failure is "not healthy"
    print(f"probe {url}: {exc}", file=sys.stderr)
    sys.exit(1)

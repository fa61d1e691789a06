"""The key ledger: fingerprints and dates only, and a rotation's grace period whatever was observed first."""

from __future__ import annotations

import json
import secrets
from types import SimpleNamespace

from pydantic import SecretStr

from app.keys import KeyLedger, fingerprint


def test_a_rotation_keeps_the_old_keys_grace_even_when_the_service_saw_the_new_key_first(tmp_path):
    old, new = f"sk-{secrets.token_hex(16)}", f"sk-{secrets.token_hex(16)}"
    now = [1_000_000.0]
    ledger = KeyLedger(tmp_path / "keys.json", clock=lambda: now[0])
    ledger.observe(SimpleNamespace(openai_api_key=SecretStr(old)))
    now[0] += 10
    # The service's .env watcher runs between the command's write of .env and its record of the rotation.
    ledger.observe(SimpleNamespace(openai_api_key=SecretStr(new)))
    status = ledger.rotated("OPENAI_API_KEY", new, grace_seconds=900, old_secret=old)
    assert status.fingerprint == fingerprint(new) and status.previous_fingerprint == fingerprint(old)
    assert status.previous_valid_until == now[0] + 900
    stored = (tmp_path / "keys.json").read_text()
    assert old not in stored and new not in stored and json.loads(stored)  # fingerprints and dates only


"""Key rotation: every provider key and virtual key has a fingerprint, an age and a due date.

    ledger = KeyLedger.from_settings(settings)
    statuses = ledger.observe(settings)        # records keys seen for the first time (or changed)
    ledger.rotated("OPENAI_API_KEY", new, grace_seconds=900, old_secret=old)  # what `sophia keys rotate` records

The ledger is a small JSON file in ``SOPHIA_DATA_DIR`` holding fingerprints (8 hex digits of a
key's sha256, never the key) and dates; ``EnvWatcher`` lets a running service pick up keys rotated
in ``.env`` without a restart (``PortkeyManager.use_settings``).
"""

from app.keys.ledger import KeyLedger, KeyStatus, fingerprint, key_variables
from app.keys.watch import EnvWatcher, credential_changes

__all__ = ["EnvWatcher", "KeyLedger", "KeyStatus", "credential_changes", "fingerprint", "key_variables"]

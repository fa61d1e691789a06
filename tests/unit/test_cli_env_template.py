"""`.env.template` documents every setting, with placeholders only."""

from __future__ import annotations

import re
from pathlib import Path

from app.core.keys import is_placeholder
from app.core.settings import Settings

TEMPLATE = Path(__file__).resolve().parents[2] / ".env.template"


def _documented() -> dict[str, str]:
    values = {}
    for line in TEMPLATE.read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            values[match.group(1)] = match.group(2).strip()
    return values


def test_every_setting_is_in_the_template():
    missing = [name.upper() for name in Settings.model_fields if name.upper() not in _documented()]
    assert not missing, f"add these settings to .env.template (with a comment): {', '.join(missing)}"


def test_template_secrets_are_placeholders():
    from pydantic import SecretStr

    secret_fields = [n.upper() for n, f in Settings.model_fields.items() if "SecretStr" in str(f.annotation)]
    documented = _documented()
    for name in secret_fields:
        value = documented[name].split()[0] if documented[name] else ""
        assert not value or is_placeholder(SecretStr(value)) or name == "DATABASE_URL", name
    assert "your_password" in documented["DATABASE_URL"]

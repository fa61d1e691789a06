"""Values copied from a template (the spec's ``.env`` example, ``.env.template``): never used as settings.

``OPENAI_VK=openai-vk-xxxxx``, ``QDRANT_URL=your_qdrant_url``, ``PORTKEY_API_KEY=your_portkey_api_key``:
such a value is treated as not set (with one warning), instead of being sent somewhere or stopping
every command with a validation error.
"""

from __future__ import annotations

_MARKERS = ("xxxxx", "your_", "your-", "changeme", "<", "placeholder")


def looks_like_placeholder(value: str) -> bool:
    """True for an empty value or one copied from a template (``your_key``, ``sk-xxxxx``, ``<token>``...)."""
    value = value.strip().lower()
    return not value or any(marker in value for marker in _MARKERS)

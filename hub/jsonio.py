"""JSON as the hub writes it for scripts (the admin API, ``--json``): datetimes as ISO 8601, UTC as ``Z``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(type(value).__name__)


def dumps(value: Any, *, indent: int | None = None) -> str:
    """``value`` as JSON text, datetimes included."""
    return json.dumps(value, default=_default, indent=indent, ensure_ascii=False)

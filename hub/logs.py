"""Logging set-up: one line per record (text or JSON), with every known secret scrubbed out.

Secrets reach the redactor from the one place that resolves them (:mod:`hub.config`), so a token can never
be printed by a log call anywhere, a plugin's included, even by mistake.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable

REDACTED = "***"

# Short values (e.g. "1") would scrub half of every log line while protecting nothing.
_MIN_SECRET_LENGTH = 4


class SecretRedactor(logging.Filter):
    """Replaces known secret values in a record's final message (and traceback) with ``***``."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, secrets: Iterable[str]) -> None:
        """Start scrubbing ``secrets``; ignores values too short to be worth hiding."""
        self._secrets.update(s for s in secrets if len(s) >= _MIN_SECRET_LENGTH)

    def scrub(self, text: str) -> str:
        """Return ``text`` with every known secret replaced; longest first so prefixes cannot leak."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            record.msg = self.scrub(record.getMessage())
            record.args = None
            if record.exc_info:
                formatter = logging.Formatter()
                record.exc_text = self.scrub(formatter.formatException(record.exc_info))
                record.exc_info = None
        return True


#: The process-wide redactor: config resolution feeds it, every handler the hub installs uses it.
redactor = SecretRedactor()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        exception = record.exc_text or (self.formatException(record.exc_info) if record.exc_info else None)
        if exception:
            entry["exception"] = exception
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Send the hub's logs to stderr, one line per record, secrets scrubbed. Safe to call twice."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(redactor)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
        )
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_appcast_hub", False)]:
        root.removeHandler(old)
    handler._appcast_hub = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aiohttp's access log is one line per pixel hit: useful only when debugging.
    logging.getLogger("aiohttp.access").setLevel(max(root.level, logging.WARNING))
    # Their INFO lines repeat, per job and per connection, what the hub's own lines already say.
    for chatty in ("apscheduler", "tortoise", "aiosqlite", "asyncio"):
        logging.getLogger(chatty).setLevel(max(root.level, logging.WARNING))

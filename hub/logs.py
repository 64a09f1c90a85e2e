"""Logging set-up: one line per record (text or JSON), with every known secret scrubbed out.

Secrets reach the redactor from the one place that resolves them (:mod:`hub.config`), so a token can never
be printed by a log call anywhere, a plugin's included, even by mistake.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Hashable, Iterable

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


class QuietLog:
    """Logs each kind of recurring problem at most once per ``every`` seconds, saying how often it recurred.

    For what a client or an outage can repeat at will (a refused webhook, a malformed request, a round of
    work failing while the database is away): one line per cause per interval keeps the log readable, and
    no caller can fill the disk through it. ``key`` names the cause; its first record is logged at once.
    """

    def __init__(self, logger: logging.Logger, every: float = 60.0) -> None:
        self.logger = logger
        self.every = every
        self._next: dict[Hashable, tuple[float, int]] = {}  # key → (time of the next allowed line, held back)

    def log(self, level: int, key: Hashable, message: str, *args: object, exc_info: bool = False) -> bool:
        """Log ``message % args`` unless ``key`` was logged less than ``every`` s ago; True if logged."""
        now = time.monotonic()
        due, held = self._next.get(key, (0.0, 0))
        if now < due:
            self._next[key] = (due, held + 1)
            return False
        if len(self._next) > _MAX_QUIET_KEYS:  # keys are causes, not callers: this is only a backstop
            self._next.clear()
        self._next[key] = (now + self.every, 0)
        if held:
            message += f" (and {held} more like it in the last {self.every:.0f}s)"
        self.logger.log(level, message, *args, exc_info=exc_info)
        return True

    def forget(self, key: Hashable) -> None:
        """``key``'s problem is over: its next occurrence is logged at once."""
        self._next.pop(key, None)


_MAX_QUIET_KEYS = 10_000


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
    # asyncpg's pool warns with a traceback at every reconnection attempt while the database is away;
    # the hub's own lines say so once a minute.
    logging.getLogger("asyncpg").setLevel(max(root.level, logging.ERROR))


class ServerLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger, for its ``RequestHandler``: a client's malformed request is one INFO line.

    aiohttp logs every request its parser refuses (a request line over 8,190 bytes, a broken header, bad
    chunking) at ERROR with a traceback, so any client could fill the log at will. Those are the client's
    mistake, already answered 400: they are counted by kind and logged without a traceback, once a minute
    per kind. Everything else (a handler's own failure) is logged as aiohttp would.
    """

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logger, {})
        self.quiet = QuietLog(logger)

    def log(self, level: int, msg: object, *args: object, **kwargs: object) -> None:
        # Imported here: the parser's exceptions and the metrics are only needed once a client errs.
        from aiohttp.http_exceptions import HttpProcessingError

        from hub.metrics import CLIENT_PROTOCOL_ERRORS

        error = kwargs.get("exc_info")
        if error is True:
            error = sys.exc_info()[1]
        if isinstance(error, HttpProcessingError):
            kind = type(error).__name__
            CLIENT_PROTOCOL_ERRORS.labels(kind).inc()
            # The message may quote what the client sent: repr() keeps it on one line, and it is cut short.
            self.quiet.log(logging.INFO, kind, "refused a malformed request: %s: %.200r", kind, error.message)
            return
        super().log(level, msg, *args, **kwargs)  # type: ignore[arg-type]

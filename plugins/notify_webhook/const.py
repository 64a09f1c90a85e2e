"""Names, headers and defaults of the ``notify_webhook`` notice sink."""

from __future__ import annotations

NAME = "notify_webhook"
#: Error messages name the peer this way, never by its URL (a query string may carry a key).
PEER = "the notice webhook"
DEFAULT_TIMEOUT_SECONDS = 10.0
#: Unix seconds when the notice was sent: part of what is signed, so a receiver can refuse old replays.
TIMESTAMP_HEADER = "X-Appcast-Hub-Timestamp"
#: ``sha256=`` and the hex HMAC-SHA256, under the configured secret, of ``TIMESTAMP.BODY``.
SIGNATURE_HEADER = "X-Appcast-Hub-Signature"
SIGNATURE_PREFIX = "sha256="

"""Webhook signatures: HMAC-SHA256 in the encodings ATSs send it, compared in constant time.

Most ATSs sign the raw body with HMAC-SHA256 keyed by a webhook secret (or by the account's API token)
and send it hex- or Base64-encoded in a header, sometimes after a ``sha256=`` or ``sha256 `` prefix.
:func:`signature_matches` checks any of those against one or several secrets; adapters call it instead of
writing the comparison again (where a truncated or ``==`` comparison is an easy mistake to make).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from hub.errors import WebhookRejected

if TYPE_CHECKING:
    from hub.normalised import WebhookRequest

Encoding = Literal["hex", "base64"]


def hmac_sha256(secret: str | bytes, message: bytes) -> bytes:
    """The raw HMAC-SHA256 digest of ``message`` keyed by ``secret`` (a str is taken as UTF-8)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, hashlib.sha256).digest()


def encode(digest: bytes, encoding: Encoding = "hex") -> str:
    """A digest written as the ATS writes it: lower-case hex, or standard Base64."""
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode("ascii")


def sign(secret: str | bytes, message: bytes, encoding: Encoding = "hex", prefix: str = "") -> str:
    """The header value an ATS sends for ``message``: ``prefix`` + the encoded HMAC (for fakes and tests)."""
    return prefix + encode(hmac_sha256(secret, message), encoding)


def signature_matches(
    secrets: str | Iterable[str],
    message: bytes,
    sent: str | None,
    *,
    encoding: Encoding = "hex",
    prefix: str = "",
) -> bool:
    """Does ``sent`` (a header's value) carry the HMAC-SHA256 of ``message`` under one of ``secrets``?

    ``prefix`` (``"sha256="``, ``"sha256 "``) must start the value, case aside; surrounding blanks are
    ignored, and so is the case of hex digits. The whole value is compared, in constant time, once per
    secret with no early exit, so the time taken tells nothing of which secret matched.
    """
    if not sent:
        return False
    value = sent.strip()
    if prefix:
        if value[: len(prefix)].lower() != prefix.lower():
            return False
        value = value[len(prefix) :].strip()
    if encoding == "hex":
        value = value.lower()
    # Bytes, not str: compare_digest refuses a str with non-ASCII characters, and a forger sends anything.
    given = value.encode("utf-8", "replace")
    matched = False
    for secret in [secrets] if isinstance(secrets, str) else secrets:
        if secret:
            matched |= hmac.compare_digest(encode(hmac_sha256(secret, message), encoding).encode(), given)
    return matched


def require_body_signature(
    request: WebhookRequest,
    secrets: str | Iterable[str] | None,
    header: str,
    *,
    encoding: Encoding = "hex",
    prefix: str = "",
) -> None:
    """Refuse (:class:`~hub.errors.WebhookRejected`, 401) a webhook whose ``header`` does not carry the
    HMAC-SHA256 of its raw body under one of ``secrets``: the scheme most ATSs use, in one call."""
    configured = [secrets] if isinstance(secrets, str) else [s for s in secrets or () if s]
    if not any(configured):
        raise WebhookRejected("no webhook secret is configured: every webhook is refused")
    if not signature_matches(
        configured, request.body, request.header(header), encoding=encoding, prefix=prefix
    ):
        raise WebhookRejected(f"missing or wrong {header} header")

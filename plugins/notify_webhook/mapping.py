"""A notice as the JSON the sink posts, and the signature that comes with it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hub.sdk import Notice, sign
from plugins.notify_webhook import const


def notice_payload(notice: Notice) -> dict[str, Any]:
    """What is posted: the notice's fields, as :meth:`Notice.as_json` writes them (a digest's figures
    under ``digest``)."""
    return notice.as_json()


def signed_request(payload: Mapping[str, Any], secret: str, timestamp: int) -> tuple[bytes, dict[str, str]]:
    """The body and the signature headers of one attempt (the timestamp is the attempt's, not the
    notice's: a receiver checks it is recent)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    signature = sign(secret, f"{timestamp}.".encode() + body, prefix=const.SIGNATURE_PREFIX)
    return body, {const.TIMESTAMP_HEADER: str(timestamp), const.SIGNATURE_HEADER: signature}

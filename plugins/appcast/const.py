"""Names, endpoints and defaults of the ``appcast`` destination."""

from __future__ import annotations

NAME = "appcast"
#: Error messages and logs name the peer this way; never with its URL (query strings may carry keys).
PEER = "Appcast"

#: Funnel events sent when the account does not choose: the hire, which is what Appcast bills and
#: optimises on; the other stages are opt-in.
DEFAULT_FUNNEL_EVENTS: tuple[str, ...] = ("hired",)
DEFAULT_TIMEOUT_SECONDS = 10.0

#: Appcast's per-client pixel script (PROTOCOLS.md): ``{slug}-{id}`` names the client, ``ent`` the ENT ID.
PIXEL_SCRIPT_TEMPLATE = "https://click.appcast.io/pixels/{slug}-{id}.js?ent={ent}"
#: What a snippet asked for without a job id holds in its place: the hub's snippet endpoint tells the
#: developer to replace ``JOB_ID`` (hub/views/pixels.py), so both pixels use the same word.
JOB_ID_PLACEHOLDER = "JOB_ID"
#: Career-site page → the event Appcast's data layer expects for it.
PAGE_EVENTS: dict[str, str] = {"job": "view", "confirmation": "apply"}

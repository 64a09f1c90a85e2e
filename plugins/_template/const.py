"""Names and defaults of the ``myats`` adapter."""

#: The plugin's one name: entry point, config table ``[accounts.<account>.myats]``, logs.
NAME = "myats"
#: How errors and logs name the ATS: never by URL, because query strings may carry keys.
PEER = "MyATS"

API_KEY_HEADER = "X-Api-Key"
SIGNATURE_HEADER = "X-MyATS-Signature"
SIGNATURE_PREFIX = "sha256="
DEFAULT_PAGE_SIZE = 100
#: MyATS allows 5 requests a second per API key.
DEFAULT_RATE_PER_SECOND = 5.0

#: Webhook types → the hub's event kinds; every other type is accepted and ignored.
EVENT_TYPES = {
    "application.created": "application_created",
    "candidate.stage_changed": "stage_changed",
    "candidate.hired": "hired",
}
#: MyATS's stage kinds → the funnel event each means (``other`` means none).
STAGE_KINDS = {"applied": "applied", "screen": "screen", "interview": "interview", "offer": "offer",
               "hired": "hired"}  # fmt: skip
#: Question types Appcast Apply cannot answer: a job asking one is refused, never half-applied to.
UNSUPPORTED_QUESTIONS = frozenset({"file", "date"})

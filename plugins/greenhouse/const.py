"""Names and defaults of the ``greenhouse`` adapter."""

#: The plugin's one name: entry point, config table ``[accounts.<account>.greenhouse]``, logs.
NAME = "greenhouse"
#: How errors and logs name the ATS: never by URL, because query strings may carry keys.
PEER = "Greenhouse"

#: The public job board API (jobs) and Harvest v3 with its OAuth token endpoint (the rest). Harvest
#: v1/v2 went out of service on 2026-08-31, so only v3 is spoken.
BOARD_URL = "https://boards-api.greenhouse.io"
HARVEST_URL = "https://harvest.greenhouse.io"
AUTH_URL = "https://auth.greenhouse.io"

SIGNATURE_HEADER = "Signature"
#: ``Signature: sha256 <hex>``: the algorithm Greenhouse names before the digest.
SIGNATURE_PREFIX = "sha256 "

#: Webhook ``action`` → the hub's event kind; every other action (``ping`` included) is accepted and ignored.
ACTIONS = {
    "new_candidate_application": "application_created",
    "candidate_stage_change": "stage_changed",
    "hire_candidate": "hired",
    "reject_candidate": "archived",
}
#: The prefix of each kind's ``dedupe_key``, so a webhook and a reconciliation poll name one event alike.
KEY_PREFIXES = {
    "application_created": "applied",
    "stage_changed": "stage",
    "hired": "hired",
    "archived": "rejected",
}
#: ``Event.ats_event`` of hires found by polling Harvest rather than by a webhook.
RECONCILIATION_EVENT = "reconciliation"

#: Job board custom fields ("metadata") read into jobs: by name (case-insensitive), and by value type.
EMPLOYMENT_TYPE_FIELD = "employment type"
SALARY_VALUE_TYPE = "currency_range"

#: Harvest v3 pages hold at most 500 items.
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
#: Harvest limits each credential per rolling window (its X-RateLimit-Limit, typically 50 per 10 s).
DEFAULT_RATE_PER_SECOND = 5.0
#: An access token lives an hour; one is renewed this long before it expires.
TOKEN_MARGIN_SECONDS = 60.0
DEFAULT_TOKEN_SECONDS = 3600.0

#: How requests are retried; read at call time, so tests can shorten the backoff.
ATTEMPTS = 4
BACKOFF_BASE_SECONDS = 0.5

"""Names and defaults of the ``lever`` adapter."""

NAME = "lever"
#: How the adapter names Lever in error messages (never with a URL: query strings may carry keys).
PEER = "Lever"

#: API origins by Lever instance; accounts hosted in the EU answer only on the EU one.
ORIGINS = {"global": "https://api.lever.co", "eu": "https://api.eu.lever.co"}
DEFAULT_REGION = "global"

DEFAULT_PAGE_SIZE = 100
#: Lever's v1 ``limit`` accepts 1-100. The public API documents no maximum, and a silently capped page
#: would look like the last one there (ending a snapshot early and closing jobs), so both stay at 100.
MAX_PAGE_SIZE = 100

#: Lever allows about 10 requests/s per API key (bursts to 20) and answers 429 beyond.
DEFAULT_RATE_PER_SECOND = 10.0
DEFAULT_WEBHOOK_MAX_AGE_SECONDS = 300.0

#: Archive reasons rarely change; looked up for every archive webhook, so cached per site this long.
ARCHIVE_REASONS_TTL_SECONDS = 600.0

#: Retry tuning handed to :func:`hub.http.request_json`; read at call time so tests can shrink it.
ATTEMPTS = 4
BACKOFF_BASE_SECONDS = 0.5
REQUEST_TIMEOUT_SECONDS = 30.0

#: Lever ``state`` of a posting that is live on the job site; every other state is closed for the feed.
OPEN_STATE = "published"

#: Lever webhook event names the adapter understands.
EVENT_APPLICATION_CREATED = "applicationCreated"
EVENT_STAGE_CHANGE = "candidateStageChange"
EVENT_HIRED = "candidateHired"
EVENT_ARCHIVE_CHANGE = "candidateArchiveChange"

#: Lever answers 429 beyond about 2 application POSTs per second: applies queue one at a time, per site.
APPLY_RATE_PER_SECOND = 2.0
APPLY_BURST = 1
#: The ``origin`` API v1 records for an application sent by the candidate (as opposed to sourced/referred).
APPLY_ORIGIN = "applied"

#: Application form field types Appcast Apply cannot answer, with the name Lever's form editor shows.
UNSUPPORTED_QUESTION_TYPES = {
    "university": "University Picker",
    "score-system": "Rating Scale",
    "rating-scale": "Rating Scale",
}

#: A webhook's event is confirmed by Lever's own record of it (an archiving, a move, an application)
#: within this of the webhook's signed ``triggeredAt``: Lever sends the webhook as the change happens.
DEFAULT_CONFIRM_WINDOW_SECONDS = 600.0

#: Archive reason ``type`` that marks a hire.
HIRED_REASON_TYPE = "hired"
#: ``Event.ats_event`` of hires found by the reconciliation poll rather than by a webhook.
RECONCILIATION_EVENT = "reconciliation"

"""Names, endpoints and defaults of the ``pinpoint`` adapter, and the lookup tables its mapping uses."""

NAME = "pinpoint"
#: Error messages and logs name the peer this way; never with its URL (query strings may carry keys).
PEER = "Pinpoint"

BASE_URL_TEMPLATE = "https://{subdomain}.pinpointhq.com"
API_PREFIX = "/api/v1"
JSONAPI_MEDIA_TYPE = "application/vnd.api+json"
API_KEY_HEADER = "X-API-KEY"

DEFAULT_PAGE_SIZE = 100
#: Pinpoint publishes no rate limit: stay well below what a busy admin UI would send.
DEFAULT_RATE_PER_SECOND = 5.0
#: Pinpoint retries a failed delivery for up to 24 h, possibly keeping the first ``triggeredAt``: a
#: shorter window would refuse those retries and lose the hire. Replays cannot double a hire (events
#: are stored once by key), so the window only has to bound very old bodies.
DEFAULT_WEBHOOK_MAX_AGE_SECONDS = 25 * 3600.0

#: Passed to :func:`hub.http.request_json`. Read at call time, so tests can shrink the backoff.
ATTEMPTS = 4
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0
#: Seconds to wait for Pinpoint to answer a POST (one attempt: a POST is not resent after a timeout).
POST_TIMEOUT = 30.0
#: A safety stop for a server that keeps announcing a next page: 100,000 jobs at 100 per page is 1,000.
MAX_PAGES = 100_000

# --- webhooks ---------------------------------------------------------------------------------------

SIGNATURE_HEADER = "PINPOINT-HMAC-SHA256"
HIRED_EVENT = "application_hired"
#: ``Event.ats_event`` of a hire found by :func:`appcast_hub_fetch_recent_events` rather than a webhook.
RECONCILIATION_EVENT = "reconciliation"
#: ``triggeredAt`` is epoch seconds; a value this large can only be milliseconds (year 5138 in seconds).
EPOCH_MILLISECONDS_THRESHOLD = 100_000_000_000

# --- reconciliation ---------------------------------------------------------------------------------

#: What ``filter[status]`` asks for and what ``status`` holds on a hired application (not documented).
HIRED_STATUS = "hired"
#: The listing's newest-first order, used when Pinpoint refuses the filters.
NEWEST_FIRST = "-updated_at"

# --- applications in --------------------------------------------------------------------------------

#: Pinpoint's last_name for a candidate who gave one name only ("Cher"): Pinpoint may require a last
#: name, and a visible placeholder is better than refusing the candidate.
MISSING_LAST_NAME = "-"
#: Where the application's source goes. Pinpoint documents no such attribute; this is the name its
#: application resource plausibly reads. A 400 or 422 naming it makes the adapter resend without it.
SOURCE_ATTRIBUTE = "source_name"
#: Good enough to refuse what is clearly not an address; Pinpoint has the final word.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"

# --- mapping ----------------------------------------------------------------------------------------

OPEN_STATUS = "open"

#: Extra sections of a job advert, appended to ``description`` in this order under these headings.
DESCRIPTION_SECTIONS: tuple[tuple[str, str], ...] = (
    ("key_responsibilities", "Key responsibilities"),
    ("skills_knowledge_expertise", "Skills, knowledge and expertise"),
    ("benefits", "Benefits"),
)

#: Pinpoint's compensation frequency (lower-cased, ``_``/``-`` as spaces) to the feed's interval words.
COMPENSATION_INTERVALS: dict[str, str] = {
    "year": "per year",
    "yearly": "per year",
    "annual": "per year",
    "annually": "per year",
    "per annum": "per year",
    "per year": "per year",
    "month": "per month",
    "monthly": "per month",
    "per month": "per month",
    "week": "per week",
    "weekly": "per week",
    "per week": "per week",
    "day": "per day",
    "daily": "per day",
    "per day": "per day",
    "hour": "per hour",
    "hourly": "per hour",
    "per hour": "per hour",
}

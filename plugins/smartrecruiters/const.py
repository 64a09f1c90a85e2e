"""Names and defaults of the ``smartrecruiters`` adapter."""

#: The plugin's one name: entry point, config table ``[accounts.<account>.smartrecruiters]``, logs.
NAME = "smartrecruiters"
#: How errors and logs name the ATS: never by URL, because query strings may carry keys.
PEER = "SmartRecruiters"

#: SmartRecruiters documents one API host for every account (no data-centre hosts).
DEFAULT_BASE_URL = "https://api.smartrecruiters.com"
API_KEY_HEADER = "X-SmartToken"
#: Its lists take at most 100 items a page.
MAX_PAGE_SIZE = 100
#: Assumed: SmartRecruiters publishes no figure we could confirm; 10/s per key is what integrators use.
DEFAULT_RATE_PER_SECOND = 10.0
DEFAULT_WEBHOOK_MAX_AGE_SECONDS = 300.0

#: Webhook headers. The signature covers the timestamp, the body and the four others, in this order.
SIGNATURE_HEADER = "smartrecruiters-signature"
TIMESTAMP_HEADER = "smartrecruiters-timestamp"
SIGNED_HEADERS = ("event-id", "event-name", "event-version", "link")
SIGNATURE_SCHEME = "v1="
#: Most signatures a header may hold: one per active key, and SmartRecruiters keeps at most two active
#: (a replaced key for 24 hours). More is refused before any HMAC is computed.
MAX_SIGNATURES = 8
#: Sent (unsigned) when a subscription is activated; the receiver must echo it.
HANDSHAKE_HEADER = "X-Hook-Secret"

EVENT_APPLICATION_CREATED = "application.created"
EVENT_STATUS_UPDATED = "application.status.updated"

#: Job statuses (the ``status`` filter of ``GET /jobs``), and those whose public job counts as open.
JOB_STATUSES = ("CREATED", "SOURCING", "FILLED", "INTERVIEW", "OFFER", "CANCELLED", "ON_HOLD")
DEFAULT_OPEN_STATUSES = ["SOURCING", "INTERVIEW", "OFFER"]
PUBLIC = "PUBLIC"

#: The fixed candidate statuses of every hiring process, with the funnel event each means.
STATUSES = {"LEAD": None, "NEW": "applied", "IN_REVIEW": "screen", "INTERVIEW": "interview",
            "OFFERED": "offer", "HIRED": "hired", "REJECTED": None, "WITHDRAWN": None,
            "TRANSFERRED": None}  # fmt: skip
HIRED = "HIRED"

#: The job ad sections, in the order a job page shows them.
SECTIONS = ("companyDescription", "jobDescription", "qualifications", "additionalInformation")
#: ``Event.ats_event`` of hires found by the reconciliation poll rather than by a webhook.
RECONCILIATION_EVENT = "reconciliation"

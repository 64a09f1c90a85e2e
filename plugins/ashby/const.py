"""Names and defaults of the ``ashby`` adapter."""

#: The plugin's one name: entry point, config table ``[accounts.<account>.ashby]``, logs.
NAME = "ashby"
#: How errors and logs name the ATS: never by URL.
PEER = "Ashby"

#: Every API call is ``POST {API_ROOT}/{method}`` with a JSON body (Ashby's RPC style).
API_ROOT = "https://api.ashbyhq.com"
SIGNATURE_HEADER = "Ashby-Signature"
SIGNATURE_PREFIX = "sha256="
DEFAULT_PAGE_SIZE = 100
#: Ashby documents per-key limits without a figure; 429 answers carry Retry-After, which is honoured.
DEFAULT_RATE_PER_SECOND = 5.0

#: Job ``status`` values; only an Open job is in the feed.
OPEN_STATUS = "Open"
#: Ashby's error code when a syncToken is too old to continue from: start again with a full sync.
SYNC_TOKEN_EXPIRED = "sync_token_expired"  # noqa: S105 -- an error code, not a secret

#: Webhook ``action`` → the hub's event kind. ``applicationUpdate`` counts only when it archives.
ACTIONS = {
    "applicationSubmit": "application_created",
    "candidateStageChange": "stage_changed",
    "candidateHire": "hired",
    "applicationUpdate": "archived",
}
ARCHIVED_STATUS = "Archived"
HIRED_STATUS = "Hired"
#: ``Event.ats_event`` of hires found by the reconciliation poll.
RECONCILIATION_EVENT = "reconciliation"

#: Interview stage ``type`` → the funnel event it suggests (Lead and Archived suggest none).
STAGE_TYPES = {"PreInterviewScreen": "screen", "Active": "interview", "Offer": "offer", "Hired": "hired"}

#: ``employmentType`` → the feed's job type.
EMPLOYMENT_TYPES = {"FullTime": "full-time", "PartTime": "part-time", "Contract": "contract",
                    "Temporary": "temporary", "Intern": "internship"}  # fmt: skip
#: ``workplaceType`` → the hub's workplace.
WORKPLACES = {"OnSite": "onsite", "Hybrid": "hybrid", "Remote": "remote"}
#: Ashby's compensation ``interval`` → the feed's words.
INTERVALS = {"1 YEAR": "per year", "1 MONTH": "per month", "1 WEEK": "per week", "1 DAY": "per day",
             "1 HOUR": "per hour"}  # fmt: skip

#: Application-form system fields Appcast Apply fills; any other required field refuses the application.
FORM_FIELDS = {"_systemfield_name": "name", "_systemfield_email": "email", "_systemfield_phone": "phone"}
#: Ashby documents no larger page; a silently capped page would still be followed by its cursor.
MAX_PAGE_SIZE = 100

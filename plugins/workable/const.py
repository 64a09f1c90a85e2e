"""Names and defaults of the ``workable`` adapter."""

#: The plugin's one name: entry point, config table ``[accounts.<account>.workable]``, logs.
NAME = "workable"
#: How errors and logs name the ATS: never by URL, because query strings may carry keys.
PEER = "Workable"

#: Each account has its own host; the SPI (Workable's name for its API) lives under this root.
ORIGIN = "https://{subdomain}.workable.com"
API_ROOT = "/spi/v3"
SIGNATURE_HEADER = "X-Workable-Signature"

#: ``limit`` is at most 100 (Workable's default is 50).
DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE = 100
#: Account tokens get 10 requests per 10-second interval (OAuth and partner tokens 50). Just under 1/s, so
#: no interval ever sees an eleventh: Workable's 429 names no Retry-After to wait for.
DEFAULT_RATE_PER_SECOND = 0.9
ACCOUNT_TOKEN_RATE = 1.0
#: A 429 caused by another client of the token waits for the next interval (up to 10 s): with no
#: Retry-After, these retries' backoff (up to 1+2+4+8+8 s) spans one.
ATTEMPTS = 6
BACKOFF_BASE_SECONDS = 1.0
#: The job text Workable leaves out of its job list unless asked for.
JOB_FIELDS = "description,full_description,requirements,benefits"
OPEN_STATE = "published"

EVENT_CREATED = "candidate_created"
EVENT_MOVED = "candidate_moved"
#: ``Event.ats_event`` of hires found by the reconciliation poll rather than by a webhook.
RECONCILIATION_EVENT = "reconciliation"
DEFAULT_HIRED_STAGE = "hired"

#: Workable's stage kinds → the funnel event each means (``sourced`` means none: nobody applied).
STAGE_KINDS = {"applied": "applied", "shortlisted": "screen", "phone-screen": "screen",
               "assessment": "screen", "interview": "interview", "offer": "offer",
               "hired": "hired"}  # fmt: skip
WORKPLACES = {"on_site": "onsite", "hybrid": "hybrid", "remote": "remote"}
EMPLOYMENT_TYPES = {"full-time": "full-time", "part-time": "part-time", "contract": "contract",
                    "contractor": "contract", "temporary": "temporary", "internship": "internship",
                    "intern": "internship"}  # fmt: skip

#: What an Appcast Apply application can fill of the form's standard fields.
FILLABLE_FIELDS = frozenset({"name", "firstname", "lastname", "email", "phone", "cover_letter", "resume"})
#: Question types and the key their answer goes under; any other type (``file``…) cannot be answered.
ANSWER_KEYS = {"free_text": "body", "boolean": "checked", "multiple_choice": "choices", "dropdown": "choices",
               "numeric": "value", "date": "date"}  # fmt: skip

"""Names, defaults and Recruitee's vocabulary for the ``recruitee`` adapter."""

#: The plugin's one name: entry point, config table ``[accounts.<account>.recruitee]``, logs.
NAME = "recruitee"
#: How errors and logs name the ATS: never by URL.
PEER = "Recruitee"

#: The ATS API's root; a company's resources are under ``/c/{company_id}``.
DEFAULT_BASE_URL = "https://api.recruitee.com"
SIGNATURE_HEADER = "X-Recruitee-Signature"
DEFAULT_PAGE_SIZE = 100
#: Recruitee publishes no request budget for the API: a modest default, configurable per account.
DEFAULT_RATE_PER_SECOND = 5.0

#: Stage categories of Recruitee's pipelines → the funnel event each means (the rest mean none).
STAGE_CATEGORIES = {"apply": "applied", "phone_screen": "screen", "interview": "interview",
                    "evaluation": "interview", "offer": "offer", "hire": "hired"}  # fmt: skip
#: The stage categories whose stage means "hired", unless the account says otherwise.
DEFAULT_HIRE_CATEGORIES = ("hire",)
#: ``event_type`` (or ``event_type/event_subtype``) → the hub's event kind; the rest are ignored. Public
#: sources name a creation both ``candidate_created`` and ``new_candidate``: both are taken.
EVENT_TYPES = {"candidate_created": "application_created", "new_candidate": "application_created",
               "candidate_assigned": "application_created", "candidate_moved/stage_changed": "stage_changed",
               "candidate_moved/disqualified": "archived", "candidate_disqualified": "archived"}  # fmt: skip
#: An offer's ``options_<field>`` names a form field; "required" ones Appcast Apply must fill.
FORM_FIELDS = {"cv": "resume_url", "cover_letter": "cover_letter", "phone": "phone", "photo": None}
#: Recruitee's ``employment_type`` values (``fulltime_permanent``…) by their first word; others as given.
EMPLOYMENT_TYPES = {"fulltime": "full-time", "parttime": "part-time", "internship": "internship"}

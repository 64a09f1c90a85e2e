"""Names and defaults of the ``greenhouse`` adapter."""

#: The plugin's one name: entry point, config table ``[accounts.<account>.greenhouse]``, logs.
NAME = "greenhouse"
#: How errors and logs name the ATS: never by URL, because query strings may carry keys.
PEER = "Greenhouse"

#: The public job board API; ``base_url`` overrides it (a proxy, or a fake Greenhouse in tests).
DEFAULT_BASE_URL = "https://boards-api.greenhouse.io"

SIGNATURE_HEADER = "Signature"
#: ``Signature: sha256 <hex>``: the algorithm Greenhouse names before the digest.
SIGNATURE_PREFIX = "sha256 "
#: The webhook ``action`` of "Candidate has been hired"; every other action is accepted and ignored.
HIRE_ACTION = "hire_candidate"

#: Job board custom fields ("metadata") read into jobs: by name (case-insensitive), and by value type.
EMPLOYMENT_TYPE_FIELD = "employment type"
SALARY_VALUE_TYPE = "currency_range"

#: How the SDK's ``Api`` retries; read at call time, so tests can shorten the backoff.
ATTEMPTS = 4
BACKOFF_BASE_SECONDS = 0.5

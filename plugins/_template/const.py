"""Names and defaults of the ``myats`` adapter."""

#: The plugin's one name: entry point, config table ``[accounts.<account>.myats]``, logs.
NAME = "myats"
#: How errors and logs name the ATS: never by URL, because query strings may carry keys.
PEER = "MyATS"

API_KEY_HEADER = "X-Api-Key"
SIGNATURE_HEADER = "X-MyATS-Signature"
#: The webhook ``type`` that reports a hire; every other type is accepted and ignored.
HIRED_TYPE = "candidate.hired"

DEFAULT_PAGE_SIZE = 100

"""Names and defaults of the ``file`` adapter."""

NAME = "file"
#: Jobs per page handed to the hub: small enough to keep memory flat for very large files.
DEFAULT_PAGE_SIZE = 500

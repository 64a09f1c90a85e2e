"""The ``lever`` adapter: jobs from Lever's postings APIs, Lever webhooks turned into hub events."""

"""The ``ashby`` adapter: Ashby's jobs and postings, stages, signed webhooks, hires and Appcast Apply."""

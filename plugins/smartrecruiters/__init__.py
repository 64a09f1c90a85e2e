"""The ``smartrecruiters`` adapter: SmartRecruiters' jobs, candidate statuses, signed webhooks, hires and
Appcast Apply."""

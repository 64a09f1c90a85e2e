"""The ``greenhouse`` adapter: job board jobs, signed webhooks, and Harvest v3 stages, hires and Apply."""

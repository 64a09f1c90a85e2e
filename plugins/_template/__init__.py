"""The ``myats`` adapter: MyATS's jobs, stages, signed webhooks, hires and Appcast Apply."""

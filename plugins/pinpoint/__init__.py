"""The ``pinpoint`` adapter: jobs, hire webhooks and stages from Pinpoint's JSON:API (pinpointhq.com)."""

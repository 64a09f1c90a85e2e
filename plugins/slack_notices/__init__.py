"""The ``slack_notices`` notice sink: an account's incidents in a Slack channel, updates in a thread."""

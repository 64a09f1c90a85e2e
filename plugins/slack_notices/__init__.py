"""The ``slack_notices`` notice sink: an account's incidents in a Slack channel, one thread each; digests."""

"""Names, endpoints and limits of the ``slack_notices`` notice sink."""

from __future__ import annotations

NAME = "slack_notices"
PEER = "Slack"
DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_TIMEOUT_SECONDS = 10.0
#: Slack allows about one message per second per channel (docs.slack.dev: chat.postMessage, rate limits).
MESSAGES_PER_SECOND = 1.0
#: The longest a notice waits for its turn in the channel while the outbox's batch waits for it; a later
#: turn is booked and taken then (``SendLater``): a burst of notices holds up the deliveries sent with it
#: a second at most.
LONGEST_PACE_WAIT = 1.0
#: Slack's errors that mean the token is wrong or revoked: no retry helps until the config changes.
AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"})
#: Slack's errors that name the channel: the bot is not in it, or there is no such channel.
CHANNEL_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived"})
#: Slack's errors that say Slack itself failed, not the message: retried, and counted as Slack being down.
#: Any other error refuses this message (``invalid_blocks``, ``msg_too_long``, ``no_text``…): retrying it
#: as an outage would hold every later notice of the account behind it.
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)
#: What starts each kind of notice.
MARKS = {
    "incident.opened": ":rotating_light:",
    "incident.updated": ":arrows_counterclockwise:",
    "incident.resolved": ":white_check_mark:",
    "digest": ":bar_chart:",
}
#: Longest notice text put in one message (Slack's section text holds 3,000 characters).
MAX_TEXT = 2900
#: Longest header text (Slack's header block holds 150 characters).
MAX_HEADER = 150

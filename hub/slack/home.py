"""The bot's App Home tab: every account at a glance for whoever opens it, and buttons for the admins.

Each account shows what ``/appcast status``, ``incidents`` and ``stats`` would say of it — its switch and
last sync, its feed, its deliveries, its open incidents, and its views, applies and hires of the last 14
UTC days as sparklines — read by the same services, so the tab and the commands never disagree.

The buttons stand for commands: Sync now is ``/appcast sync``, Retry all dead is ``/appcast retry failed``,
Integration on/off is ``/appcast enable|disable integration``, and a held close offers the very Close/Keep
buttons (:data:`hub.held.ACTION_CONFIRM`) the ``held`` answer and the held-close notice carry.
:func:`command_for` turns a click into its command, which runs as if the clicker had typed it: the same
admin check, operation and audit. Slack asks first before the destructive ones (integration off, retry
all, closing the held jobs). A click on Home has no ``response_url``: what it did shows at the top of the
tab, published again for the clicker.

A view holds at most 100 blocks: at most :data:`MAX_ACCOUNTS` accounts are shown, those with open
incidents first, and the tab says how many were left out. Nothing here speaks to Slack.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub import models
from hub.accounts import LiveAccount, get_account
from hub.config import HubConfig
from hub.deliveries import DeliveryCountsJson, counts_by_state
from hub.incidents import list_incidents
from hub.slack import blocks
from hub.slack.blocks import Message
from hub.slack.commands import Command, Retry, SwitchIntegration, Sync
from hub.stats import Daily, Period, daily, sparkline
from hub.status import AccountStatus, account_status

ACTION_SYNC = "appcast_home_sync"
ACTION_RETRY_DEAD = "appcast_home_retry_dead"
ACTION_INTEGRATION_ON = "appcast_home_integration_on"
ACTION_INTEGRATION_OFF = "appcast_home_integration_off"
#: Each Home button's command, made from the button's value (the account; Retry all dead has none).
COMMANDS: dict[str, Callable[[str], Command]] = {
    ACTION_SYNC: lambda account: Sync(account=account),
    ACTION_RETRY_DEAD: lambda _: Retry(),
    ACTION_INTEGRATION_ON: lambda account: SwitchIntegration(on=True, account=account),
    ACTION_INTEGRATION_OFF: lambda account: SwitchIntegration(on=False, account=account),
}
#: The buttons whose value names no account.
_ACCOUNTLESS = frozenset({ACTION_RETRY_DEAD})

#: The days a sparkline covers, today (UTC) included.
SPARK_DAYS = 14
#: Slack's limit on the blocks of a Home view.
MAX_VIEW_BLOCKS = 100
#: What an account takes: its section, its numbers, the admins' buttons, a divider.
BLOCKS_PER_ACCOUNT = 4
#: The blocks around the accounts: header, its context, the deliveries, and the "left out" line.
FRAME_BLOCKS = 4
#: The blocks of the last click's answer shown at the top (each answer is a section or two).
NOTICE_BLOCKS = 3
MAX_ACCOUNTS = (MAX_VIEW_BLOCKS - FRAME_BLOCKS - NOTICE_BLOCKS) // BLOCKS_PER_ACCOUNT
#: Open incidents named per account; the rest are counted.
INCIDENTS_SHOWN = 3


def command_for(action_id: str, value: str, accounts: Collection[str]) -> Command | None:
    """The command a Home button stands for, or None for a value this hub did not write (an account
    that left the config, or a forged click)."""
    make = COMMANDS.get(action_id)
    if make is None or (action_id not in _ACCOUNTLESS and value not in accounts):
        return None
    return make(value)


@dataclass(frozen=True, slots=True)
class AccountHome:
    """What the tab shows of one account."""

    status: AccountStatus
    #: Titles of its open incidents, newest first (at most :data:`hub.incidents.MAX_LISTED`).
    incidents: list[str]
    numbers: Daily


async def account_home(config: HubConfig, account: LiveAccount, period: Period) -> AccountHome:
    """Read one account's part of the tab now."""
    incidents = await list_incidents(account_id=account.row.id)
    return AccountHome(
        await account_status(config, account),
        [incident["title"] for incident in incidents],
        await daily(account, period),
    )


async def home_message(config: HubConfig, *, admin: bool, notice: Message | None = None) -> Message:
    """The tab as a message body (``text`` and ``blocks``; :func:`view` makes it a Home view).

    ``admin``: draw the buttons; ``notice``: the answer to the viewer's last click, shown on top.
    """
    with_incidents = set(
        await models.Incident.filter(state="open").distinct().values_list("account__name", flat=True)
    )
    # Those that need someone first: when the tab cannot show every account, it shows those.
    names = sorted(config.accounts, key=lambda name: (name not in with_incidents, name))
    period = Period.ending(datetime.now(UTC).date(), SPARK_DAYS)
    shown = [
        await account_home(config, await get_account(config, name), period) for name in names[:MAX_ACCOUNTS]
    ]
    return render(
        shown, await counts_by_state(), admin=admin, left_out=len(names) - len(shown), notice=notice
    )


def render(
    accounts: list[AccountHome],
    deliveries: DeliveryCountsJson,
    *,
    admin: bool,
    left_out: int = 0,
    notice: Message | None = None,
) -> Message:
    """The tab's blocks: the notice, every account's section, and the buttons when ``admin``."""
    who = (
        "Buttons act at once and are audited; Slack asks first before the ones that stop or close things."
        if admin
        else f"Only hub admins get buttons here. `{blocks.COMMAND} help` lists what anyone can read."
    )
    found: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Appcast hub"}},
        blocks.context(
            f"Updated {blocks.when(datetime.now(UTC))}. Numbers: the last {SPARK_DAYS} UTC days. {who}"
        ),
    ]
    if notice is not None:
        found.extend(notice["blocks"][:NOTICE_BLOCKS])
    found.append(_deliveries(deliveries, admin))
    for item in accounts:
        found.extend(_account(item, admin))
    if left_out:
        found.append(
            blocks.context(
                f"…and {left_out} more accounts, not shown: `{blocks.COMMAND} status` lists every one."
            )
        )
    return {"text": "Appcast hub", "blocks": found}


def view(message: Message) -> dict[str, Any]:
    """A message body (the tab, or an apology when it could not be read) as the Home view to publish."""
    return {"type": "home", "blocks": message["blocks"]}


def _deliveries(counts: DeliveryCountsJson, admin: bool) -> dict[str, Any]:
    dead = counts["dead"]
    text = f"*Deliveries*: {counts['pending']} pending · {counts['delivered']} delivered · "
    text += f"{blocks.WARNING} *{dead} dead*" if dead else "0 dead"
    retry = None
    if admin and dead:
        retry = blocks.button(f"Retry all {dead} dead", ACTION_RETRY_DEAD, "dead",
                              confirm=f"Send all {dead} dead deliveries again, every account's?")  # fmt: skip
    return blocks.section(text, retry)


def _account(item: AccountHome, admin: bool) -> list[dict[str, Any]]:
    status = item.status
    name = blocks.escape(status.name)
    switch = f"{blocks.IN_FEED} integration on" if status.enabled else f"{blocks.NOT_IN_FEED} integration off"
    dead = status.deliveries["dead"]
    lines = [
        f"*{name}* — {blocks.escape(status.company)} · {switch}",
        f"ATS: {blocks.escape(status.adapter)} · {blocks.sync_line(status)}",
        f"Feed: {status.feed_jobs} of {status.open_jobs} open jobs ({blocks.escape(status.feed_policy)}) · "
        f"Deliveries: {status.deliveries['pending']} pending · "
        + (f"{blocks.WARNING} *{dead} dead*" if dead else "0 dead"),
    ]
    if status.held is not None:
        lines.append(f"{blocks.WARNING} *Held:* {blocks.escape(status.held.summary())}")
    if item.incidents:
        titles = "; ".join(blocks.escape(title) for title in item.incidents[:INCIDENTS_SHOWN])
        more = len(item.incidents) - INCIDENTS_SHOWN
        lines.append(
            f"{blocks.WARNING} *{len(item.incidents)} open incidents*: {titles}"
            + (f" and {more} more: `{blocks.COMMAND} incidents`" if more > 0 else "")
        )
    else:
        lines.append("No open incident.")
    numbers = item.numbers
    found = [
        blocks.section("\n".join(lines)),
        blocks.context(
            f"views {blocks.code(sparkline(numbers.views))} {sum(numbers.views)} · "
            f"applies {blocks.code(sparkline(numbers.applies))} {sum(numbers.applies)} · "
            f"hires {blocks.code(sparkline(numbers.hires))} {sum(numbers.hires)}"
        ),
    ]
    if admin:
        buttons = [blocks.button("Sync now", ACTION_SYNC, status.name, "primary")]
        if status.enabled:
            buttons.append(
                blocks.button("Integration off", ACTION_INTEGRATION_OFF, status.name, "danger",
                              confirm=f"Switch the Appcast integration of *{name}* off? Its feed lists no "
                              "jobs and no events are sent until it is on again.")
            )  # fmt: skip
        else:
            buttons.append(blocks.button("Integration on", ACTION_INTEGRATION_ON, status.name))
        if status.held is not None:
            buttons.extend(blocks.held_buttons(status.name, status.held))
        found.append({"type": "actions", "elements": buttons})
    found.append(blocks.divider())
    return found

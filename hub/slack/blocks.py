"""Block Kit rendering of every ``/appcast`` answer: readable at a glance, safe whatever was typed.

Each function returns a message body (``{"text": …, "blocks": […]}``) ready for ``ack()``, a
``response_url`` or ``chat.postMessage``; ``text`` is the notification fallback. Handlers gather the facts
into the small view classes below; nothing here touches the database.

Escaping: Slack reads ``&``, ``<`` and ``>`` as markup (``<!channel>``, ``<@U…>``, links), so every piece of
text that is not ours passes through :func:`escape`. What the user typed is also shown in inline code
(:func:`typed`), where ``*bold*`` or ``_italic_`` stay literal characters instead of formatting; job titles
and ATS ids are escaped the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub import held as held_actions
from hub.audit import AuditEntryJson
from hub.config import SLACK_USER_ID
from hub.events import StoreResult
from hub.health import RULES, HealthJson, health_summary
from hub.held import HeldClose
from hub.incidents import IncidentJson
from hub.jobs import DEFAULT_BID, bid_text
from hub.slack.commands import CHANGING, USAGE, Typed, UsageError
from hub.stages import StagesReport
from hub.status import AccountStatus

Message = dict[str, Any]

ACTION_ENABLE = "appcast_job_enable"
ACTION_DISABLE = "appcast_job_disable"
ACTION_PAGE = "appcast_jobs_page"
ACTION_HELD_CONFIRM = held_actions.ACTION_CONFIRM
ACTION_HELD_KEEP = held_actions.ACTION_KEEP
COMMAND = "/appcast"
#: Slack's limits: blocks per message, characters per section text, per button value.
MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_VALUE = 2000
#: Admins a refusal names: enough to find one who is around, short enough to read.
MAX_NAMED_ADMINS = 10
#: The deepest page a button may ask for (a list's offset).
MAX_OFFSET = 100_000
#: Words kept in a button's page state: a long search still fits the value.
_MAX_WORDS = 200

IN_FEED = ":large_green_circle:"
NOT_IN_FEED = ":white_circle:"
DONE = ":white_check_mark:"
WARNING = ":warning:"
REFUSED = ":no_entry_sign:"


# --- text ---------------------------------------------------------------------------------------------


def escape(text: str) -> str:
    """``text`` with Slack's three control characters escaped: shown as typed, never as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str) -> str:
    """``text`` as inline code: literal, formatting characters included.

    A backtick would end the code span early, so it is shown as its look-alike U+02CB.
    """
    return "`" + escape(text).replace("`", "\u02cb") + "`" if text else "(empty)"


def typed(text: str) -> str:
    """What the user typed, quoted back literally."""
    return code(text)


def user(user_id: str) -> str:
    """A mention for a Slack member id; anything else (``cli``, ``api``) as escaped text."""
    return f"<@{user_id}>" if SLACK_USER_ID.fullmatch(user_id) else escape(user_id)


def when(moment: datetime | None) -> str:
    """A time Slack shows in each reader's own time zone (UTC in the fallback)."""
    if moment is None:
        return "never"
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def parts(pieces: Iterable[str | Typed]) -> str:
    """Our own mrkdwn pieces and the user's :class:`Typed` ones joined, each made safe its way."""
    return "".join(typed(p.text) if isinstance(p, Typed) else escape(p) for p in pieces)


def _clip(text: str, limit: int = MAX_SECTION) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def listing(items: Sequence[str], limit: int = 25) -> str:
    """``a, b, c`` — the first ``limit`` items and how many more there are."""
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# --- blocks -------------------------------------------------------------------------------------------


def section(text: str, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(t, 2000)} for t in texts[:10]]}


def divider() -> dict[str, Any]:
    return {"type": "divider"}


def button(
    label: str, action_id: str, value: str, style: str | None = None, confirm: str | None = None
) -> dict[str, Any]:
    """A Block Kit button; ``confirm`` makes Slack ask "are you sure?" with that text before it acts."""
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": label[:75]},
        "action_id": action_id,
        "value": value[:MAX_VALUE],
    }
    if style is not None:
        element["style"] = style
    if confirm is not None:
        element["confirm"] = {
            "title": {"type": "plain_text", "text": "Are you sure?"},
            "text": {"type": "mrkdwn", "text": confirm[:300]},
            "confirm": {"type": "plain_text", "text": label[:30]},
            "deny": {"type": "plain_text", "text": "Cancel"},
        }
    return element


def sections(rows: list[str]) -> list[dict[str, Any]]:
    """One line per row, split over as many sections as Slack's 3000-character limit needs."""
    blocks, chunk, size = [], [], 0
    for row in rows:
        if chunk and size + len(row) + 1 > MAX_SECTION:
            blocks.append(section("\n".join(chunk)))
            chunk, size = [], 0
        chunk.append(row)
        size += len(row) + 1
    if chunk:
        blocks.append(section("\n".join(chunk)))
    return blocks


def message(text: str, blocks: list[dict[str, Any]], **extra: Any) -> Message:
    """A message body; past Slack's block limit the tail is replaced by a note saying so."""
    if len(blocks) > MAX_BLOCKS:
        blocks = [*blocks[: MAX_BLOCKS - 1], context("…the list goes on: narrow it down to see the rest.")]
    return {"text": _clip(text, 3000), "blocks": blocks, **extra}


def note(text: str) -> Message:
    """A one-section answer."""
    return message(text, [section(text)])


# --- help, usage, refusals ----------------------------------------------------------------------------


def help_message() -> Message:
    """Every command, one line each; the ones that change something are marked."""
    lines = [
        f"`{COMMAND} {escape(usage)}` — {escape(what)}{' :lock:' if name in CHANGING else ''}"
        for name, (usage, what) in USAGE.items()
    ]
    return message(
        f"{COMMAND} commands",
        [
            section("*What `/appcast` can do*\n" + "\n".join(lines)),
            context(":lock: changes something: hub admins only. Every change is in `/appcast audit`."),
        ],
    )


def usage_message(error: UsageError) -> Message:
    """A short usage line: what was wrong and the closest valid command."""
    text = f"{WARNING} {parts(error.parts)}"
    if error.closest is not None:
        text += f"\nTry: `{COMMAND} {escape(USAGE[error.closest][0])}`"
    return message(error.message, [section(text), context(f"`{COMMAND} help` lists every command.")])


def refusal(user_id: str, admins: Sequence[str], usergroup: str | None) -> Message:
    """A polite no, naming who can make the change."""
    helpers = [user(admin) for admin in admins[:MAX_NAMED_ADMINS]]
    if usergroup is not None:
        helpers.append(f"anyone in <!subteam^{usergroup}>")
    named = f"{', '.join(helpers[:-1])} or {helpers[-1]}" if len(helpers) > 1 else "".join(helpers)
    who = (
        f"Ask {named}: they can do it, or add you to the hub's admins."
        if helpers
        else "No hub admins are configured yet: whoever runs the hub can add Slack member ids to "
        "`[slack] admins` in its config."
    )
    text = f"{REFUSED} Sorry {user(user_id)}, only hub admins can change things from Slack. {who}"
    return message("Only hub admins can change things from Slack.", [section(text)])


def failure() -> Message:
    """Something broke on our side: say so without details (they are in the hub's log)."""
    return note(f"{WARNING} Something went wrong on the hub while doing that. Its log has the details.")


def database_away() -> Message:
    """The hub's database did not answer: nothing was done, and trying again later will work."""
    return note(
        f"{WARNING} The hub cannot reach its database right now, so nothing was done. "
        "Try again in a minute; pixel hits are still being counted."
    )


def working(what: str) -> Message:
    """The acknowledgement of a slow command; the answer follows in the same conversation."""
    return message(what, [context(f":hourglass_flowing_sand: {escape(what)}")])


# --- jobs ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageState:
    """Which list a button belongs to, carried in the button's value so a click can redraw the list."""

    account: str | None
    words: str
    offset: int

    def value(self, **extra: str) -> str:
        """The button value: compact JSON (Slack caps values at 2000 characters)."""
        state = {"a": self.account, "q": self.words[:_MAX_WORDS], "o": self.offset, **extra}
        return json.dumps(state, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_value(cls, value: str) -> tuple[PageState, dict[str, Any]] | None:
        """The state and the whole decoded value, or None for a value this hub did not write."""
        try:
            data = json.loads(value)
            state = cls(data["a"], data["q"], int(data["o"]))
        except (ValueError, KeyError, TypeError, RecursionError):
            return None
        if state.account is not None and not isinstance(state.account, str):
            return None
        if not isinstance(state.words, str) or not 0 <= state.offset <= MAX_OFFSET:
            return None
        # Only a forged request carries these: the database would refuse the query.
        if any(
            isinstance(text, str) and "\x00" in text for text in (state.words, data.get("j"), data.get("ja"))
        ):
            return None
        return state, data


@dataclass(frozen=True, slots=True)
class JobLine:
    """One job row of a list."""

    account: str
    ats_id: str
    title: str
    place: str
    appcast: bool | None
    in_feed: bool
    #: The job's own bid (``"1.50"``), or None: the account's default.
    bid: str | None


@dataclass(slots=True)
class JobsPage:
    state: PageState
    total: int
    page_size: int
    jobs: list[JobLine]
    #: Accounts in the list whose integration is off: nothing of theirs is in the feed.
    integration_off: list[str] = field(default_factory=list)
    several_accounts: bool = False
    #: A line above the list: what the last click did.
    notice: str | None = None


def jobs_page(page: JobsPage) -> Message:
    """A page of jobs, each with the button that flips it, and Previous/Next."""
    state = page.state
    scope = f" in {escape(state.account)}" if state.account else ""
    matching = f" matching {typed(state.words)}" if state.words else ""
    if not page.jobs:
        return note(f"No open jobs{scope}{matching}.")
    first, last = state.offset + 1, state.offset + len(page.jobs)
    blocks: list[dict[str, Any]] = []
    if page.notice:
        blocks.append(context(page.notice))
    blocks.append(section(f"*Open jobs{scope}*{matching} — {first} to {last} of {page.total}"))
    if page.integration_off:
        off = ", ".join(escape(name) for name in page.integration_off)
        blocks.append(
            context(f"{WARNING} Integration off for {off}: their feed lists nothing until it is on.")
        )
    for job in page.jobs:
        on_feed = f"{IN_FEED} in the feed" if job.in_feed else f"{NOT_IN_FEED} not in the feed"
        where = f" · {escape(job.place)}" if job.place else ""
        account = f" · {escape(job.account)}" if page.several_accounts else ""
        shown_bid = f"bid {job.bid}" if job.bid else f"bid: {DEFAULT_BID}"
        text = f"*{escape(job.title)}*\n{code(job.ats_id)}{where}{account} · {on_feed} · {shown_bid}"
        value = state.value(j=job.ats_id, ja=job.account)
        accessory = (
            button("Disable", ACTION_DISABLE, value, "danger")
            if job.appcast
            else button("Enable", ACTION_ENABLE, value, "primary")
        )
        blocks.append(section(text, accessory))
    navigation = []
    if state.offset > 0:
        previous = PageState(state.account, state.words, max(0, state.offset - page.page_size))
        navigation.append(button("◀ Previous", ACTION_PAGE, previous.value(), None))
    if last < page.total:
        following = PageState(state.account, state.words, last)
        navigation.append(button("Next ▶", ACTION_PAGE, following.value(), None))
    if navigation:
        blocks.append({"type": "actions", "elements": navigation})
    blocks.append(context("Enable puts a job in the Appcast feed at once; Disable takes it out. Audited."))
    return message(f"Open jobs{' in ' + state.account if state.account else ''}: {page.total}", blocks)


@dataclass(frozen=True, slots=True)
class Switched:
    """A job a switch touched: enough to name it in a reply."""

    account: str
    ats_id: str
    title: str

    def label(self, several_accounts: bool) -> str:
        account = f" ({escape(self.account)})" if several_accounts else ""
        return f"{code(self.ats_id)} {escape(self.title)}{account}"


@dataclass(slots=True)
class SwitchReport:
    on: bool
    switched: list[Switched] = field(default_factory=list)
    already: list[Switched] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    #: Typed id → the ``account:id`` spellings that would name it.
    ambiguous: dict[str, list[str]] = field(default_factory=dict)
    several_accounts: bool = False


def switch_report(report: SwitchReport) -> Message:
    """Exactly what changed, what already was so, and which ids named nothing (or several things)."""
    state = "on" if report.on else "off"
    lines = []
    if report.switched:
        lines.append(
            f"{DONE} *Switched {state}* for Appcast ({len(report.switched)}): "
            + listing([job.label(report.several_accounts) for job in report.switched])
        )
    if report.already:
        lines.append(
            f"Already {state} ({len(report.already)}): "
            + listing([job.label(report.several_accounts) for job in report.already])
        )
    lines.extend(_unresolved_lines(report.missing, report.ambiguous))
    feed_note = (
        "The feed has them now; Appcast sees them on its next poll."
        if report.on
        else "They are out of the feed now; Appcast drops them on its next poll."
    )
    blocks = [section("\n".join(lines))]
    if report.switched:
        blocks.append(context(feed_note))
    summary = f"Switched {state}: {len(report.switched)}, already {state}: {len(report.already)}"
    if report.missing:
        summary += f", not found: {len(report.missing)}"
    return message(summary, blocks)


def _unresolved_lines(missing: list[str], ambiguous: dict[str, list[str]]) -> list[str]:
    lines = []
    if missing:
        lines.append(f"{WARNING} *Not found* ({len(missing)}): " + listing([typed(i) for i in missing]))
    for ats_id, spellings in ambiguous.items():
        options = " or ".join(code(spelling) for spelling in spellings)
        lines.append(f"{WARNING} {typed(ats_id)} is in several accounts: write {options}")
    return lines


def unresolved(missing: list[str], ambiguous: dict[str, list[str]]) -> Message:
    """Job ids that named no job, or a job in several accounts."""
    text = "\n".join(_unresolved_lines(missing, ambiguous))
    return message("Job not found" if missing else "Job id is ambiguous", [section(text)])


def switch_announcement(actor: str, on: bool, jobs: list[Switched], several_accounts: bool) -> Message:
    """For the announce channel: who switched which jobs."""
    verb = "switched on" if on else "switched off"
    text = f"{user(actor)} {verb} for Appcast: " + listing([job.label(several_accounts) for job in jobs])
    return message(f"Jobs {verb} for Appcast: {len(jobs)}", [section(text)])


@dataclass(frozen=True, slots=True)
class BidChange:
    """What setting a job's bid did: its bids before and after, in cents (None: the account's default)."""

    job: Switched
    before: int | None
    after: int | None
    changed: bool


def _shown_bid(cents: int | None) -> str:
    return f"*{bid_text(cents)}*" if cents is not None else "the account's default"


def bid(change: BidChange, several_accounts: bool, actor: str | None = None) -> Message:
    """A bid's outcome (``actor`` set: phrased for the announce channel)."""
    label, after = change.job.label(several_accounts), _shown_bid(change.after)
    summary = f"Bid of {change.job.ats_id}: {bid_text(change.after) or DEFAULT_BID}"
    if actor is not None:
        text = f"{user(actor)} set the bid of {label} to {after} (was {_shown_bid(change.before)})."
        return message(summary, [section(text)])
    if not change.changed:
        return message(summary, [section(f"The bid of {label} was already {after}. Nothing changed.")])
    text = f"{DONE} The bid of {label} is now {after} (was {_shown_bid(change.before)})."
    return message(
        summary, [section(text), context("The feed has it now: Appcast sees it on its next poll.")]
    )


def integration(account: str, on: bool, changed: bool, actor: str | None = None) -> Message:
    """The integration switch's outcome (``actor`` set: phrased for the announce channel)."""
    state = "on" if on else "off"
    effect = (
        "its feed lists its jobs again and events flow to Appcast."
        if on
        else "its feed lists no jobs and no events are sent to Appcast."
    )
    if actor is not None:
        text = f"{user(actor)} switched the Appcast integration of *{escape(account)}* {state}: {effect}"
    elif changed:
        text = f"{DONE} Appcast integration of *{escape(account)}* is now *{state}*: {effect}"
    else:
        text = f"The Appcast integration of *{escape(account)}* was already {state}. Nothing changed."
    return message(f"Appcast integration of {account}: {state}", [section(text)])


# --- status, feed, sync -------------------------------------------------------------------------------


def sync_line(status: AccountStatus) -> str:
    """The account's last sync in a few words: when it worked, or how it failed (``status`` and Home)."""
    if status.sync_ok is None:
        return "not synced yet"
    if status.sync_ok:
        return f"{DONE} synced {when(status.sync_finished_at)}"
    failures = f" ({status.sync_failures} in a row)" if status.sync_failures > 1 else ""
    error = escape(status.sync_error or "unknown error")
    return f"{WARNING} last sync failed{failures} {when(status.sync_finished_at)}: {error}"


def status(statuses: list[AccountStatus], slack_problem: str | None = None) -> Message:
    """Each account at a glance: switch, ATS and last sync, feed, deliveries; and the bot's own trouble."""
    if not statuses:
        return note("No accounts are configured.")
    blocks = [context(f"{WARNING} {escape(slack_problem)}")] if slack_problem else []
    for item in statuses:
        switch = f"{IN_FEED} integration on" if item.enabled else f"{NOT_IN_FEED} integration off"
        token = " (needs `?token=`)" if item.feed_token else ""
        failed = item.deliveries["dead"]
        dead = f" · {WARNING} *{failed} failed*: `{COMMAND} deliveries failed`" if failed else ""
        paused = "".join(
            f" · {WARNING} *{escape(destination)} {state}*: sending paused, probing"
            for destination, state in item.breakers.items()
            if state != "closed"
        )
        held = (
            f"\n{WARNING} *Held:* {escape(item.held.summary())}: `{COMMAND} held {escape(item.name)}`"
            if item.held is not None
            else ""
        )
        health = f"Health: {escape(health_summary(item.health))}: `{COMMAND} lint {escape(item.name)}`"
        blocks.append(
            section(
                f"*{escape(item.name)}* — {escape(item.company)} · {switch}\n"
                f"ATS: {escape(item.adapter)} · {sync_line(item)}\n"
                f"Feed: {escape(item.feed_url)}{token} · {item.feed_jobs} of {item.open_jobs} open jobs "
                f"({escape(item.feed_policy)})\n{health}\n"
                f"Deliveries: {item.deliveries['pending']} pending{dead}{paused}{held}"
            )
        )
    return message(f"Status of {len(statuses)} account(s)", blocks)


def held(account: str, change: HeldClose | None) -> Message:
    """A mass close a sync held back, with buttons to apply it or keep the jobs open (admins only)."""
    if change is None:
        return note(f"Nothing is held for *{escape(account)}*: its syncs apply what the ATS lists.")
    sample = ", ".join(code(ats_id) for ats_id in change.sample)
    more = f" and {change.jobs - len(change.sample)} more" if change.jobs > len(change.sample) else ""
    text = (
        f"{WARNING} *{escape(account)}*: {escape(change.summary())}.\n"
        f"Closing them takes them out of the Appcast feed. Among them: {sample}{more}.\n"
        "The next full sync applies it if the ATS still does not list them; or decide now."
    )
    actions = {"type": "actions", "elements": held_buttons(account, change)}
    return message(f"{account}: {change.summary()}", [section(text), actions])


def held_buttons(account: str, change: HeldClose) -> list[dict[str, Any]]:
    """Close (Slack asks first: it takes the jobs out of the feed) and Keep, for ``held`` and the Home tab."""
    value = held_actions.button_value(account, change.id)
    return [
        button(f"Close {change.jobs} jobs", ACTION_HELD_CONFIRM, value, "danger",
               confirm=f"Close {change.jobs} jobs of *{escape(account)}* and take them out of the feed?"),
        button("Keep them open", ACTION_HELD_KEEP, value),
    ]  # fmt: skip


def held_resolved(account: str, confirmed: bool, jobs: int | None, actor: str | None = None) -> Message:
    """What confirming or keeping a held close did (``jobs`` None: that close is not held any more)."""
    if jobs is None:
        return note(
            f"Nothing of *{escape(account)}* is held for this to decide (it was decided, or a newer close "
            f"replaced it): `{COMMAND} held {account}` shows what is held now."
        )
    who = f"{user(actor)} " if actor else ""
    if confirmed:
        return note(f"{DONE} {who}closed {jobs} jobs of *{escape(account)}* that the ATS no longer lists.")
    return note(f"{DONE} {who}kept {jobs} jobs of *{escape(account)}* open; the next full sync checks again.")


def feed_preview(item: AccountStatus, jobs: list[JobLine], *, preview_size: int) -> Message:
    """The feed URL, how many jobs it holds, and the first few."""
    token = (
        "\nThe feed needs `?token=` with the account's feed token (not shown here: ask whoever runs the hub)."
        if item.feed_token
        else ""
    )
    blocks = [section(f"*Feed of {escape(item.name)}*: {escape(item.feed_url)}{token}")]
    if not item.enabled:
        blocks.append(context(f"{WARNING} The integration is off: the feed is valid but lists no jobs."))
    elif not jobs:
        blocks.append(
            context(f"The feed lists no jobs: `{COMMAND} jobs {escape(item.name)}` to switch some on.")
        )
    else:
        lines = [
            f"• *{escape(job.title)}* {code(job.ats_id)}"
            + (f" · {escape(job.place)}" if job.place else "")
            + (f" · bid {job.bid}" if job.bid else "")
            for job in jobs[:preview_size]
        ]
        more = f"\n…and {item.feed_jobs - len(lines)} more" if item.feed_jobs > len(lines) else ""
        blocks.append(section(f"{item.feed_jobs} jobs, newest first:\n" + "\n".join(lines) + more))
    return message(f"Feed of {item.name}: {item.feed_jobs} jobs", blocks)


def sync_result(account: str, summary: str, error: str | None) -> Message:
    """A sync's one-line summary; a failed one says the feed kept its jobs."""
    if error:
        text = f"{WARNING} {escape(summary)}\nThe feed keeps the jobs of the last good sync."
    else:
        text = f"{DONE} {escape(summary)}"
    return message(summary, [section(text)])


#: Findings a feed-health reply lists: the rest are counted.
HEALTH_SHOWN = 15


def feed_health(health: HealthJson) -> Message:
    """The feed's health: each rule that found something, with its count, then the first jobs found."""
    found = {rule: n for rule, n in health["counts"].items() if n}
    title = f"Feed health of {health['account']}: {health['jobs']} jobs"
    if not found:
        return message(title, [section(f"{DONE} *{escape(title)}*: nothing to fix.")])
    counts = "\n".join(f"• {code(rule)} {n}: {escape(RULES[rule])}" for rule, n in found.items())
    rows = [f"• {code(f['ats_id'])} {escape(f['message'])}" for f in health["findings"][:HEALTH_SHOWN]]
    more = sum(found.values()) - len(rows)
    blocks = [section(f"{WARNING} *{escape(title)}*\n{counts}"), *sections(rows)]
    if more > 0:
        command = f"appcast-hub feed lint {health['account']} --json"
        blocks.append(context(f"and {more} more: {code(command)}"))
    return message(title, blocks)


def reconciled(account: str, result: StoreResult | None) -> Message:
    """What a reconciliation found; a failed one says the next run covers the same window again."""
    if result is None:
        text = (
            f"{WARNING} {escape(account)}: the ATS could not be asked (see the hub's log); the next run will."
        )
    else:
        text = (f"{DONE} {escape(account)}: {result.stored} new events, {result.duplicates} already known, "
                f"{result.deliveries} deliveries queued")  # fmt: skip
    return message(text, [section(text)])


# --- stages -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StageLine:
    id: str
    name: str
    workflow: str
    funnel_event: str | None
    origin: str
    unmapped_events: int


def stages(account: str, lines: list[StageLine], report: StagesReport) -> Message:
    """The ATS's stages with what each maps to and where that mapping comes from."""
    blocks = [section(f"*Stages of {escape(account)}*")]
    if report.ats_error:
        blocks.append(context(f"{WARNING} The ATS did not list its stages: {escape(report.ats_error)}"))
    elif not report.listable:
        blocks.append(
            context("This account's ATS adapter cannot list stages: only stages seen in events show.")
        )
    rows = []
    for stage in lines:
        key = f"{stage.workflow}:{stage.id}" if stage.workflow else stage.id
        if stage.origin == "unmapped":
            mapped = "_unmapped_"
        else:
            mapped = f"*{stage.funnel_event}*" if stage.funnel_event else "none (on purpose)"
            mapped += " (the ATS's own classification)" if stage.origin == "ats" else f" ({stage.origin})"
        waiting = f" · {stage.unmapped_events} events waiting" if stage.unmapped_events else ""
        rows.append(f"• {escape(stage.name)} {code(key)} → {mapped}{waiting}")
    blocks.extend(sections(rows) if rows else [section(f"No stages: {escape(report.empty_reason or '')}.")])
    blocks.append(context("Map one: " + code(f"{COMMAND} map stage {account} <stage-id> interview")))
    return message(f"Stages of {account}: {len(lines)}", blocks)


def stage_mapped(account: str, stage_key: str, before: str | None, after: str | None) -> Message:
    """A mapping's outcome, with what it was before."""
    shown_after = f"*{after}*" if after else "no funnel event"
    text = (
        f"{DONE} Stage {code(stage_key)} of *{escape(account)}* now means {shown_after} "
        f"(before: {before or 'nothing'}). Stage changes from now on follow it."
    )
    return message(f"Stage {stage_key} of {account} → {after or 'none'}", [section(text)])


# --- deliveries ---------------------------------------------------------------------------------------


def deliveries(counts: dict[str, int], rows: list[dict[str, Any]], failed: bool) -> Message:
    """The outbox counts and its newest (or failed) deliveries."""
    blocks = [
        section(
            f"*Deliveries*: {counts['pending']} pending · {counts['delivered']} delivered · "
            f"{counts['dead']} failed"
        )
    ]
    lines = []
    for row in rows:
        error = f"\n    {escape((row['last_error'] or '')[:150])}" if row["last_error"] else ""
        lines.append(
            f"• `#{row['id']}` {escape(str(row['event'] or '?'))} for {escape(row['account'])} → "
            f"{escape(row['destination'])} · {row['state']} after {row['attempts']} attempt(s) · "
            f"{when(row['created_at'])}{error}"
        )
    if lines:
        blocks.extend(sections(lines))
    else:
        blocks.append(context("No failed deliveries." if failed else "Nothing has been sent yet."))
    if failed and rows:
        blocks.append(context(f"Send them again: `{COMMAND} retry failed` (or `retry <id>` for one)."))
    return message(f"Deliveries: {counts['pending']} pending, {counts['dead']} failed", blocks)


def retried(ids: list[int], asked: int | None, state: str | None) -> Message:
    """What a replay put back in the queue (``state``: the asked delivery's state when it was not dead)."""
    if ids:
        shown = listing([f"`#{i}`" for i in ids])
        text = f"{DONE} Queued again ({len(ids)}): {shown}. They go out within seconds."
    elif asked is None:
        text = "No failed deliveries: nothing to send again."
    elif state is None:
        text = f"{WARNING} There is no delivery `#{asked}`."
    else:
        text = f"Delivery `#{asked}` is {escape(state)}, not failed: nothing to send again."
    return message(text, [section(text)])


# --- stats, audit -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatsLine:
    label: str
    views: int
    applies: int
    hires: int
    conversion: float | None


def _numbers(line: StatsLine) -> str:
    conversion = f"{line.conversion:.1%}" if line.conversion is not None else "n/a"
    return f"{line.views} views · {line.applies} applies · {conversion} conversion · {line.hires} hires"


def stats(title: str, totals: list[StatsLine], top: dict[str, list[StatsLine]]) -> Message:
    """Totals per account (or for one job), and the most viewed jobs under each."""
    blocks = [section(f"*{escape(title)}*")]
    for line in totals:
        text = f"*{escape(line.label)}*: {_numbers(line)}"
        best = top.get(line.label) or []
        if best:
            text += "\nMost viewed:\n" + "\n".join(f"• {code(b.label)}: {_numbers(b)}" for b in best)
        blocks.append(section(text))
    blocks.append(context("Views and applies come from the hub's pixels; hires from ATS events."))
    return message(title, blocks)


def _change(before: Any, after: Any) -> str:
    if isinstance(before, dict) and isinstance(after, dict):
        keys = list(dict.fromkeys([*before, *after]))
        return ", ".join(
            f"{key}: {json.dumps(before.get(key))} → {json.dumps(after.get(key))}" for key in keys
        )
    return f"{json.dumps(before)} → {json.dumps(after)}"


def incidents(found: list[IncidentJson], *, every: bool) -> Message:
    """What is wrong now: each incident's title, since when, and what it says to do."""
    if not found:
        return note("No incident recorded yet." if every else "Nothing is wrong: no incident is open.")
    rows = []
    for incident in found:
        state = f"resolved {when(incident['resolved_at'])}" if incident["resolved_at"] else "open"
        rows.append(
            f"• *{escape(incident['title'])}* · since {when(incident['opened_at'])} · {state}\n"
            f"{escape(incident['detail'][:500])}"
        )
    heading = f"*{len(found)} incidents*, newest first" if every else f"*{len(found)} open incidents*"
    return message(heading.replace("*", ""), [section(heading), *sections(rows)])


def audit(lines: list[AuditEntryJson]) -> Message:
    """The newest changes: when, who (and from where), what, before → after."""
    if not lines:
        return note("Nothing has been changed yet.")
    rows = []
    for line in lines:
        where = f" {escape(line['account'])}" if line["account"] else ""
        target = f" {code(line['target'][:100])}" if line["target"] else ""
        rows.append(
            f"• {when(line['at'])} · {user(line['actor'])} via {escape(line['source'])} · "
            f"*{escape(line['action'])}*{where}{target} · {escape(_change(line['before'], line['after']))}"
        )
    blocks = [section(f"*Last {len(lines)} changes*, newest first"), *sections(rows)]
    return message(f"Last {len(lines)} changes", blocks)

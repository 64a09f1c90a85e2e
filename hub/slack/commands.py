"""The ``/appcast`` sub-command grammar: text as Slack sends it → a typed command, or a usage error.

Pure: no I/O, no hub state but the configured account names, so every way of typing a command is a fast
unit test and the bot can parse inside Slack's 3-second window. Anything that does not parse becomes a
:class:`UsageError` naming the problem and the closest valid command — never an exception.

Tokens are separated by spaces (ids also by commas); ``"…"`` or ``'…'`` quote a token only when the
quotes wrap it whole, so an apostrophe inside a word (``O'Brien``, ``1' OR '1'='1``) is just a character.
A job id may be written ``account:id`` where the same id exists in several accounts.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import ClassVar

from hub.jobs import DEFAULT_BID, BadBid, parse_bid
from hub.normalised import FUNNEL_EVENTS

#: Ids per enable/disable: a chat command, not a bulk import (the CLI and API take more).
MAX_IDS = 100
MAX_AUDIT = 50
#: A delivery id is a BIGINT: longer digit strings cannot name one (and would overflow the query).
_MAX_ID_DIGITS = 18
NO_EVENT = "none"

#: Every command: its usage line and what it does, in the order ``help`` lists them.
USAGE: dict[str, tuple[str, str]] = {
    "help": ("help", "this list"),
    "status": ("status [account]", "integration, last sync, feed and deliveries at a glance"),
    "jobs": ("jobs [account] [words…]", "open jobs, each with an Enable/Disable button"),
    "enable job": ("enable job <id>…", "put jobs in the Appcast feed (write account:id if ambiguous)"),
    "disable job": ("disable job <id>…", "take jobs out of the Appcast feed"),
    "bid job": (
        f"bid job <id> <amount|{DEFAULT_BID}>",
        f"a job's bid, its <cpc> in the feed, like 1.50; `{DEFAULT_BID}`: the account's",
    ),
    "enable integration": ("enable integration <account>", "switch an account's Appcast integration on"),
    "disable integration": ("disable integration <account>", "switch it off: empty feed, no events sent"),
    "stages": ("stages <account>", "the ATS's stages and the funnel events they map to"),
    "map stage": (
        "map stage <account> <stage-id> <event|none>",
        f"events: {', '.join(FUNNEL_EVENTS)}",
    ),
    "sync": ("sync <account>", "fetch the account's jobs from the ATS now"),
    "reconcile": ("reconcile <account>", "ask the ATS now for hires and moves its webhooks missed"),
    "held": (
        "held <account> [confirm|keep]",
        "a mass close a sync held back: see it, apply it, or keep the jobs open",
    ),
    "deliveries": ("deliveries [failed]", "events sent to Appcast, or only the failed (dead) ones"),
    "retry": ("retry <delivery-id|failed>", "send failed deliveries again"),
    "stats": ("stats [job <id>]", "views, applies, conversion and hires"),
    "feed": ("feed <account>", "the feed's URL and its first jobs"),
    "lint": ("lint <account>", "the feed's health: jobs platforms would demote or refuse, and why"),
    "incidents": ("incidents [all]", "what is wrong now: open incidents, or every one"),
    "audit": ("audit [n]", "the last n changes and who made them"),
}
#: Commands that change something: only admins may run them.
CHANGING = frozenset({"enable job", "disable job", "bid job", "enable integration", "disable integration",
                      "map stage", "sync", "reconcile", "retry"})  # fmt: skip
_HEADS = sorted({name.split()[0] for name in USAGE})
_TOKEN = re.compile(r"""(?:"([^"]*)"|'([^']*)')(?=\s|$)|(\S+)""")
# NUL and lone surrogates cannot be stored or searched for (PostgreSQL refuses them): never typed, dropped.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Phones and Macs turn typed quotes into curly ones; the grammar means the straight ones.
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


@dataclass(frozen=True, slots=True)
class JobRef:
    """A job as typed: its ATS id, and the account when the user named one (``account:id``)."""

    ats_id: str
    account: str | None = None

    def __str__(self) -> str:
        return f"{self.account}:{self.ats_id}" if self.account else self.ats_id


@dataclass(frozen=True, slots=True)
class Command:
    """Base of every parsed command; ``name`` is its key in :data:`USAGE`."""

    name: ClassVar[str]
    #: Acknowledged with a "working on it" line because the answer takes seconds.
    slow: ClassVar[bool] = False

    @property
    def changes(self) -> bool:
        """Does it change anything (so only admins may run it)?"""
        return self.name in CHANGING


@dataclass(frozen=True, slots=True)
class Help(Command):
    name: ClassVar[str] = "help"


@dataclass(frozen=True, slots=True)
class Status(Command):
    name: ClassVar[str] = "status"
    account: str | None = None


@dataclass(frozen=True, slots=True)
class Jobs(Command):
    name: ClassVar[str] = "jobs"
    #: None: every account's jobs, merged newest first.
    account: str | None = None
    words: str = ""
    offset: int = 0


@dataclass(frozen=True, slots=True)
class SwitchJobs(Command):
    on: bool = True
    refs: tuple[JobRef, ...] = ()

    @property
    def name(self) -> str:  # type: ignore[override]
        return "enable job" if self.on else "disable job"


@dataclass(frozen=True, slots=True)
class BidJob(Command):
    name: ClassVar[str] = "bid job"
    ref: JobRef = JobRef("")
    #: None: the account's default bid.
    cents: int | None = None


@dataclass(frozen=True, slots=True)
class SwitchIntegration(Command):
    on: bool = True
    account: str = ""

    @property
    def name(self) -> str:  # type: ignore[override]
        return "enable integration" if self.on else "disable integration"


@dataclass(frozen=True, slots=True)
class Stages(Command):
    name: ClassVar[str] = "stages"
    slow: ClassVar[bool] = True  # asks the ATS
    account: str = ""


@dataclass(frozen=True, slots=True)
class MapStage(Command):
    name: ClassVar[str] = "map stage"
    account: str = ""
    stage_id: str = ""
    #: ``workflow:stage-id`` for ATSs with several workflows, as in the config's stage tables.
    workflow: str = ""
    #: None: deliberately no funnel event.
    funnel_event: str | None = None


@dataclass(frozen=True, slots=True)
class Sync(Command):
    name: ClassVar[str] = "sync"
    slow: ClassVar[bool] = True
    account: str = ""


@dataclass(frozen=True, slots=True)
class Reconcile(Command):
    name: ClassVar[str] = "reconcile"
    slow: ClassVar[bool] = True
    account: str = ""


@dataclass(frozen=True, slots=True)
class Lint(Command):
    name: ClassVar[str] = "lint"
    slow: ClassVar[bool] = True
    account: str = ""


@dataclass(frozen=True, slots=True)
class Held(Command):
    name: ClassVar[str] = "held"
    account: str = ""
    #: None: show it; ``confirm``: apply it; ``keep``: keep the jobs open.
    action: str | None = None

    @property
    def changes(self) -> bool:
        return self.action is not None


@dataclass(frozen=True, slots=True)
class Deliveries(Command):
    name: ClassVar[str] = "deliveries"
    failed: bool = False


@dataclass(frozen=True, slots=True)
class Retry(Command):
    name: ClassVar[str] = "retry"
    #: None: every failed (dead) delivery.
    delivery_id: int | None = None


@dataclass(frozen=True, slots=True)
class Stats(Command):
    name: ClassVar[str] = "stats"
    job: JobRef | None = None


@dataclass(frozen=True, slots=True)
class Feed(Command):
    name: ClassVar[str] = "feed"
    account: str = ""


@dataclass(frozen=True, slots=True)
class Incidents(Command):
    name: ClassVar[str] = "incidents"
    #: Resolved incidents too.
    every: bool = False


@dataclass(frozen=True, slots=True)
class Audit(Command):
    name: ClassVar[str] = "audit"
    limit: int = 10


@dataclass(frozen=True, slots=True)
class Typed:
    """Text the user typed, quoted back in a message: renderers must show it literally."""

    text: str


@dataclass(frozen=True, slots=True)
class UsageError:
    """What was wrong with the text, and the usage line of the command the user most likely meant."""

    #: The explanation: our own words (may hold `code`) and :class:`Typed` pieces of the user's.
    parts: tuple[str | Typed, ...]
    #: A key of :data:`USAGE`, or None when nothing is close.
    closest: str | None = None

    @property
    def message(self) -> str:
        """The explanation as plain text, the user's words in quotes (for logs and tests)."""
        return "".join(f"“{part.text}”" if isinstance(part, Typed) else part for part in self.parts)


class _Invalid(Exception):
    """Raised inside the parser, turned into a :class:`UsageError` at its edge."""

    def __init__(self, *parts: str | Typed, closest: str | None = None) -> None:
        super().__init__(*parts)
        self.parts = parts
        self.closest = closest


def tokenize(text: str) -> list[str]:
    """Split command text into tokens; Slack's ``&amp;``/``&lt;``/``&gt;`` are turned back into characters."""
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").translate(_QUOTES)
    text = _UNSTORABLE.sub("", text)
    tokens = (next(group for group in match.groups() if group is not None) for match in _TOKEN.finditer(text))
    return [token for token in tokens if token]


def parse(text: str, accounts: Collection[str]) -> Command | UsageError:
    """The command ``text`` (what follows ``/appcast``) means, given the configured account names."""
    words = tokenize(text)
    if not words:
        return Help()
    try:
        return _Parser(words, sorted(accounts)).command()
    except _Invalid as error:
        return UsageError(error.parts, error.closest)


def closest_command(words: list[str]) -> str | None:
    """The :data:`USAGE` key nearest to what was typed (difflib), or None when nothing is near."""
    heads = difflib.get_close_matches(words[0].lower(), _HEADS, n=1, cutoff=0.6)
    if not heads:
        return None
    names = [name for name in USAGE if name.split()[0] == heads[0]]
    if len(names) > 1 and len(words) > 1:
        typed = f"{heads[0]} {words[1].lower()}"
        names = difflib.get_close_matches(typed, names, n=1, cutoff=0) or names
    return names[0]


class _Parser:
    def __init__(self, words: list[str], accounts: list[str]) -> None:
        self.head, self.args = words[0].lower(), words[1:]
        self.words = words
        self.accounts = accounts

    def command(self) -> Command:
        head = self.head
        if head in ("help", "?"):
            return Help()
        if head in ("enable", "disable"):
            return self._switch(on=head == "enable")
        if head == "map":
            return self._map()
        if head == "bid":
            return self._bid()
        if head in ("status", "stages", "sync", "reconcile", "feed", "lint"):
            return self._account_command(head)
        if head == "jobs":
            account = self.args[0].lower() if self.args and self.args[0].lower() in self.accounts else None
            words = self.args[1:] if account else self.args
            return Jobs(account=account, words=" ".join(words))
        if head == "held":
            return self._held()
        if head == "deliveries":
            return self._deliveries()
        if head == "retry":
            return self._retry()
        if head == "stats":
            return self._stats()
        if head == "audit":
            return self._audit()
        if head == "incidents":
            return self._incidents()
        closest = closest_command(self.words)
        raise _Invalid(Typed(self.words[0]), " is not an /appcast command.", closest=closest)

    # --- pieces ---------------------------------------------------------------------------------

    def _extra(self, name: str, args: list[str]) -> None:
        if args:
            raise _Invalid("Unexpected ", Typed(" ".join(args)), f" after `{name}`.", closest=name)

    def _account(self, name: str, args: list[str], *, required: bool) -> tuple[str | None, list[str]]:
        """The account named by ``args[0]`` (the only one when there is one and none was named)."""
        if args and args[0].lower() in self.accounts:
            return args[0].lower(), args[1:]
        if args and required:
            known = difflib.get_close_matches(args[0].lower(), self.accounts, n=1, cutoff=0.6)
            hint = f" Did you mean `{known[0]}`?" if known else f" Accounts: {', '.join(self.accounts)}."
            raise _Invalid("There is no account named ", Typed(args[0]), f".{hint}", closest=name)
        if required and len(self.accounts) == 1:
            return self.accounts[0], args
        if required:
            listed = ", ".join(self.accounts) or "none are configured"
            raise _Invalid(f"Which account? ({listed})", closest=name)
        return None, args

    def _account_command(self, head: str) -> Command:
        account, rest = self._account(head, self.args, required=head != "status")
        self._extra(head, rest)
        if head == "status":
            return Status(account=account)
        assert account is not None
        commands = {"stages": Stages, "sync": Sync, "reconcile": Reconcile, "feed": Feed, "lint": Lint}
        return commands[head](account=account)

    def _switch(self, *, on: bool) -> Command:
        verb = "enable" if on else "disable"
        what = self.args[0].lower() if self.args else ""
        if what in ("job", "jobs"):
            return SwitchJobs(on=on, refs=self._job_refs(f"{verb} job", self.args[1:]))
        if what == "integration":
            account, rest = self._account(f"{verb} integration", self.args[1:], required=True)
            self._extra(f"{verb} integration", rest)
            assert account is not None
            return SwitchIntegration(on=on, account=account)
        closest = closest_command(self.words) if what else f"{verb} job"
        raise _Invalid(f"{verb.capitalize()} what: a job or an integration?", closest=closest)

    def _job_refs(self, name: str, args: list[str]) -> tuple[JobRef, ...]:
        ids = [part for arg in args for part in arg.split(",") if part]
        if not ids:
            raise _Invalid("Which jobs? Give one or more ATS job ids.", closest=name)
        if len(ids) > MAX_IDS:
            raise _Invalid(f"At most {MAX_IDS} ids at once (the CLI and admin API take more).", closest=name)
        return tuple(dict.fromkeys(self._job_ref(typed) for typed in ids))

    def _job_ref(self, typed: str) -> JobRef:
        account, sep, ats_id = typed.partition(":")
        # A colon only names an account when what precedes it is one: ATS ids may hold colons too.
        if sep and ats_id and account.lower() in self.accounts:
            return JobRef(ats_id, account.lower())
        return JobRef(typed)

    def _bid(self) -> Command:
        name = "bid job"
        if not self.args or self.args[0].lower() not in ("job", "jobs"):
            raise _Invalid("Bid on what? Only jobs take bids.", closest=name)
        if len(self.args) != 3:
            raise _Invalid(
                f"Give one job id and its bid: an amount like 1.50, or `{DEFAULT_BID}`.", closest=name
            )
        ref, amount = self._job_ref(self.args[1]), self.args[2]
        try:
            cents = parse_bid(amount)
        except BadBid as error:
            raise _Invalid("The bid ", Typed(amount), f" {error.problem}.", closest=name) from None
        return BidJob(ref=ref, cents=cents)

    def _map(self) -> Command:
        name = "map stage"
        if not self.args or self.args[0].lower() != "stage":
            raise _Invalid("Map what? Only stages can be mapped.", closest=name)
        args = self.args[1:]
        if len(args) == 2 and len(self.accounts) == 1 and args[0].lower() not in self.accounts:
            args = [self.accounts[0], *args]  # the only account may go unnamed
        if len(args) != 3:
            raise _Invalid("Give the account, the stage id and the funnel event.", closest=name)
        account, rest = self._account(name, args, required=True)
        assert account is not None
        stage, event = rest[0], rest[1].lower()
        if event != NO_EVENT and event not in FUNNEL_EVENTS:
            allowed = ", ".join([*FUNNEL_EVENTS, NO_EVENT])
            raise _Invalid(Typed(rest[1]), f" is not a funnel event (one of: {allowed}).", closest=name)
        workflow, sep, stage_id = stage.rpartition(":")
        if sep and not stage_id:
            raise _Invalid(Typed(stage), " has no stage id after the workflow.", closest=name)
        return MapStage(
            account=account,
            stage_id=stage_id,
            workflow=workflow,
            funnel_event=None if event == NO_EVENT else event,
        )

    def _held(self) -> Command:
        account, rest = self._account("held", self.args, required=True)
        assert account is not None
        action = rest[0].lower() if rest else None
        if action not in (None, "confirm", "keep"):
            raise _Invalid("`held` takes `confirm` or `keep` after the account, not ", Typed(rest[0]), ".",
                           closest="held")  # fmt: skip
        self._extra("held", rest[1:])
        return Held(account=account, action=action)

    def _deliveries(self) -> Command:
        args = [arg.lower() for arg in self.args]
        if args in ([], ["failed"], ["dead"]):
            return Deliveries(failed=bool(args))
        raise _Invalid(
            "`deliveries` takes only `failed`, not ", Typed(" ".join(self.args)), ".", closest="deliveries"
        )

    def _retry(self) -> Command:
        if len(self.args) == 1:
            target = self.args[0].lower()
            if target in ("failed", "dead", "all"):
                return Retry(delivery_id=None)
            number = target.removeprefix("#")
            if number.isascii() and number.isdigit() and len(number) <= _MAX_ID_DIGITS:
                return Retry(delivery_id=int(number))
        raise _Invalid("Give one delivery id (a number, as `deliveries` shows) or `failed`.", closest="retry")

    def _stats(self) -> Command:
        if not self.args:
            return Stats()
        if self.args[0].lower() == "job" and len(self.args) == 2:
            return Stats(job=self._job_ref(self.args[1]))
        raise _Invalid("`stats` alone, or `stats job <id>` for one job.", closest="stats")

    def _incidents(self) -> Command:
        args = [arg.lower() for arg in self.args]
        if args in ([], ["all"]):
            return Incidents(every=bool(args))
        raise _Invalid(
            "`incidents` takes only `all`, not ", Typed(" ".join(self.args)), ".", closest="incidents"
        )

    def _audit(self) -> Command:
        if not self.args:
            return Audit()
        typed = self.args[0]
        digits = typed.isascii() and typed.isdigit() and len(typed) <= len(str(MAX_AUDIT))
        if len(self.args) == 1 and digits and 1 <= int(typed) <= MAX_AUDIT:
            return Audit(limit=int(typed))
        raise _Invalid(f"`audit` takes how many entries to show, 1 to {MAX_AUDIT}.", closest="audit")

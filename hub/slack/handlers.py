"""Running ``/appcast`` commands and button clicks against the hub's services.

The same services as the CLI and the admin API (:mod:`hub.jobs`, :mod:`hub.accounts`, :mod:`hub.stages`,
:mod:`hub.deliveries` …), called with the Slack user id as actor and ``slack`` as source, so every change
lands in the audit log like any other. Who may change things is decided here, once, for commands and
buttons alike. Answers are built by :mod:`hub.slack.blocks`; nothing here speaks HTTP to Slack except the
user-group lookup, through the bot's Web API client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from hub import held, models
from hub.accounts import LiveAccount, UnknownAccount, get_account, set_integration
from hub.audit import entry_json, recent_entries
from hub.config import HubConfig
from hub.deliveries import counts_by_state, list_deliveries, replay
from hub.health import feed_health
from hub.incidents import list_incidents
from hub.jobs import BidNotWritten, list_jobs, set_bid, switch_jobs
from hub.plugins import PluginHost
from hub.scheduler import HubScheduler
from hub.slack import blocks, home
from hub.slack.blocks import Message, PageState
from hub.slack.commands import (
    Audit,
    BidJob,
    Command,
    Deliveries,
    Feed,
    Held,
    Help,
    Incidents,
    JobRef,
    Jobs,
    Lint,
    MapStage,
    Reconcile,
    Retry,
    Stages,
    Stats,
    Status,
    SwitchIntegration,
    SwitchJobs,
    Sync,
)
from hub.stages import account_stages, map_stage
from hub.stats import JobStats, job_stats, top_jobs
from hub.status import AccountStatus, account_status

_LOGGER = logging.getLogger(__name__)

SOURCE = "slack"
PAGE_SIZE = 10
FEED_PREVIEW = 5
TOP_JOBS = 5
DELIVERIES_SHOWN = 15
#: How long a user group's members are trusted before asking Slack again: a removed admin loses the
#: right within a minute, and a burst of clicks costs one API call.
USERGROUP_TTL_SECONDS = 60.0
STALE_BUTTON = blocks.note(f"{blocks.WARNING} That button is from an older hub: run the command again.")


@dataclass(slots=True)
class Services:
    """The hub's parts a command may use (taken from the aiohttp application at start-up)."""

    config: HubConfig
    plugins: PluginHost
    http: aiohttp.ClientSession
    scheduler: HubScheduler


@dataclass(slots=True)
class Reply:
    """An answer for the user, and what to tell the announce channel about it."""

    message: Message
    #: Posted to ``[slack] announce_channel`` when one is configured.
    announcement: Message | None = None
    #: For clicks: redraw the message the button sits on instead of answering below it.
    replace_original: bool = False


class Gatekeeper:
    """Decides who may change things: the configured admins, and members of the admin user group."""

    def __init__(self, admins: tuple[str, ...], usergroup: str | None, client: AsyncWebClient) -> None:
        self.admins = admins
        self.usergroup = usergroup
        self.client = client
        self._members: frozenset[str] = frozenset()
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def may_change(self, user_id: str) -> bool:
        """Is ``user_id`` an admin? A user-group lookup that fails counts as "no" (and is logged)."""
        if user_id in self.admins:
            return True
        if self.usergroup is None:
            return False
        return user_id in await self._group_members()

    async def _group_members(self) -> frozenset[str]:
        async with self._lock:  # one lookup for a burst of requests
            if time.monotonic() - self._fetched_at < USERGROUP_TTL_SECONDS:
                return self._members
            try:
                response = await self.client.usergroups_users_list(usergroup=self.usergroup)
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
                _LOGGER.warning("could not list Slack user group %s: %s", self.usergroup, error)
                return frozenset()
            self._members = frozenset(response.get("users") or ())
            self._fetched_at = time.monotonic()
            return self._members

    def refusal(self, user_id: str) -> Message:
        """The polite no for ``user_id``, naming who can help."""
        return blocks.refusal(user_id, self.admins, self.usergroup)


class CommandRunner:
    """Runs parsed commands and button clicks for one hub."""

    def __init__(self, services: Services, gate: Gatekeeper) -> None:
        self.services = services
        self.config = services.config
        self.gate = gate
        #: What is wrong with the bot's Web API access right now (its token, or reaching Slack), if
        #: anything: ``status`` says so. Set by the bot, which checks.
        self.web_api_problem: Callable[[], str | None] = lambda: None
        self._handlers: dict[type[Command], Callable[[Any, str], Awaitable[Reply]]] = {
            Help: lambda command, user: self._help(),
            Status: self._status,
            Jobs: self._jobs,
            SwitchJobs: self._switch_jobs,
            BidJob: self._bid_job,
            SwitchIntegration: self._switch_integration,
            Stages: self._stages,
            MapStage: self._map_stage,
            Sync: self._sync,
            Reconcile: self._reconcile,
            Lint: self._lint,
            Held: self._held,
            Deliveries: self._deliveries,
            Retry: self._retry,
            Stats: self._stats,
            Feed: self._feed,
            Audit: self._audit,
            Incidents: self._incidents,
        }

    @property
    def several_accounts(self) -> bool:
        return len(self.config.accounts) > 1

    async def run(self, command: Command, user: str) -> Reply:
        """Do what ``command`` says on behalf of Slack user ``user`` (refused if it changes things and
        ``user`` is no admin)."""
        if command.changes and not await self.gate.may_change(user):
            return Reply(self.gate.refusal(user))
        try:
            return await self._handlers[type(command)](command, user)
        except UnknownAccount as error:
            return _unknown_account(error)

    async def click_job(self, user: str, value: str, *, on: bool) -> Reply:
        """An Enable/Disable button: switch the job, then redraw its list with a line saying what happened."""
        decoded = PageState.from_value(value)
        if decoded is None or not all(isinstance(decoded[1].get(key), str) for key in ("j", "ja")):
            return Reply(STALE_BUTTON)
        state, data = decoded
        if not await self.gate.may_change(user):
            return Reply(self.gate.refusal(user))
        try:
            return await self._switch_and_redraw(user, state, data["ja"], data["j"], on=on)
        except UnknownAccount as error:
            return _unknown_account(error)

    async def _switch_and_redraw(
        self, user: str, state: PageState, name: str, ats_id: str, *, on: bool
    ) -> Reply:
        account = await get_account(self.config, name)
        result = await switch_jobs(account, [ats_id], on=on, actor=user, source=SOURCE)
        word = "on" if on else "off"
        label = blocks.code(ats_id)
        announcement = None
        if result.switched:
            notice = f"{blocks.DONE} {blocks.user(user)} switched {label} {word}."
            switched = await self._switched(account, result.switched)
            announcement = blocks.switch_announcement(user, on, switched, self.several_accounts)
        elif result.already:
            notice = f"{label} was already {word}."
        else:
            notice = f"{blocks.WARNING} {label} is no longer in the hub."
        page = await self.jobs_page(state, notice=notice)
        return Reply(page, announcement, replace_original=True)

    async def click_home(self, user: str, action_id: str, value: str) -> Reply:
        """A Home tab button: the command it stands for, run as if ``user`` had typed it (the same admin
        check, operation and audit)."""
        command = home.command_for(action_id, value, self.config.accounts)
        if command is None:
            return Reply(STALE_BUTTON)
        return await self.run(command, user)

    async def home(self, user: str, notice: Message | None = None) -> Reply:
        """The Home tab as ``user`` sees it (buttons for admins only); ``notice``: what their click did."""
        admin = await self.gate.may_change(user)
        return Reply(await home.home_message(self.config, admin=admin, notice=notice))

    async def click_page(self, value: str) -> Reply:
        """Previous/Next: redraw the list at another offset."""
        decoded = PageState.from_value(value)
        if decoded is None:
            return Reply(STALE_BUTTON)
        try:
            return Reply(await self.jobs_page(decoded[0]), replace_original=True)
        except UnknownAccount as error:
            return _unknown_account(error)

    # --- reading --------------------------------------------------------------------------------------

    async def _help(self) -> Reply:
        return Reply(blocks.help_message())

    async def _account_status(self, name: str) -> AccountStatus:
        return await account_status(self.config, await get_account(self.config, name))

    async def _status(self, command: Status, user: str) -> Reply:
        names = [command.account] if command.account else sorted(self.config.accounts)
        statuses = [await self._account_status(name) for name in names]
        return Reply(blocks.status(statuses, slack_problem=self.web_api_problem()))

    async def _jobs(self, command: Jobs, user: str) -> Reply:
        return Reply(await self.jobs_page(PageState(command.account, command.words, command.offset)))

    async def jobs_page(self, state: PageState, notice: str | None = None) -> Message:
        """One page of open jobs: one account's, or every account's merged newest first."""
        names = [state.account] if state.account else sorted(self.config.accounts)
        accounts = [await get_account(self.config, name) for name in names]
        tagged: list[tuple[str, dict[str, Any]]] = []
        total = 0
        if len(accounts) == 1:
            total, rows = await list_jobs(
                accounts[0], status="open", text=state.words, limit=PAGE_SIZE, offset=state.offset
            )
            tagged = [(accounts[0].name, row) for row in rows]
        else:
            # Each account's first offset+page jobs hold the merged page: deep pages cost more, but
            # nobody clicks Next a thousand times in a chat.
            for account in accounts:
                count, rows = await list_jobs(
                    account, status="open", text=state.words, limit=state.offset + PAGE_SIZE
                )
                total += count
                tagged.extend((account.name, row) for row in rows)
            tagged.sort(key=lambda item: (item[1]["posted_at"], item[1]["id"]), reverse=True)
            tagged = tagged[state.offset : state.offset + PAGE_SIZE]
        lines = [
            blocks.JobLine(
                account=name,
                ats_id=row["ats_id"],
                title=row["title"],
                place=", ".join(part for part in (row["city"], row["region"], row["country"]) if part),
                appcast=row["appcast"],
                in_feed=row["in_feed"],
                bid=row["bid"],
            )
            for name, row in tagged
        ]
        page = blocks.JobsPage(
            state=state,
            total=total,
            page_size=PAGE_SIZE,
            jobs=lines,
            integration_off=[account.name for account in accounts if not account.enabled],
            several_accounts=len(accounts) > 1,
            notice=notice,
        )
        return blocks.jobs_page(page)

    async def _stages(self, command: Stages, user: str) -> Reply:
        account = await get_account(self.config, command.account)
        report = await account_stages(account, self.services.plugins, self.services.http)
        lines = [
            blocks.StageLine(v.id, v.name, v.workflow, v.funnel_event, v.origin, v.unmapped_events)
            for v in report.stages
        ]
        return Reply(blocks.stages(account.name, lines, report))

    async def _deliveries(self, command: Deliveries, user: str) -> Reply:
        counts = await counts_by_state()
        _, rows = await list_deliveries(state="dead" if command.failed else None, limit=DELIVERIES_SHOWN)
        return Reply(blocks.deliveries(counts, rows, command.failed))

    async def _stats(self, command: Stats, user: str) -> Reply:
        if command.job is None:
            totals, top = [], {}
            for name in sorted(self.config.accounts):
                account = await get_account(self.config, name)
                totals.append(_stats_line(name, await job_stats(account)))
                top[name] = [_stats_line(s.ats_job_id or "", s) for s in await top_jobs(account, TOP_JOBS)]
            return Reply(blocks.stats("Appcast numbers, all time", totals, top))
        owners, missing, ambiguous = await self._resolve([command.job])
        if missing or ambiguous:
            return Reply(blocks.unresolved(missing, ambiguous))
        name, pairs = next(iter(owners.items()))
        ats_id = pairs[0][0]
        account = await get_account(self.config, name)
        line = _stats_line(f"{ats_id} ({name})", await job_stats(account, ats_id))
        return Reply(blocks.stats(f"Appcast numbers of job {ats_id}, all time", [line], {}))

    async def _feed(self, command: Feed, user: str) -> Reply:
        status = await self._account_status(command.account)
        account = await get_account(self.config, command.account)
        _, rows = await list_jobs(account, flag="in-feed", limit=FEED_PREVIEW)
        lines = [
            blocks.JobLine(
                account=account.name,
                ats_id=row["ats_id"],
                title=row["title"],
                place=", ".join(part for part in (row["city"], row["region"], row["country"]) if part),
                appcast=row["appcast"],
                in_feed=True,
                bid=row["bid"],
            )
            for row in rows
        ]
        return Reply(blocks.feed_preview(status, lines, preview_size=FEED_PREVIEW))

    async def _incidents(self, command: Incidents, user: str) -> Reply:
        return Reply(blocks.incidents(await list_incidents(every=command.every), every=command.every))

    async def _audit(self, command: Audit, user: str) -> Reply:
        return Reply(blocks.audit([entry_json(entry) for entry in await recent_entries(command.limit)]))

    # --- changing -------------------------------------------------------------------------------------

    async def _resolve(
        self, refs: list[JobRef] | tuple[JobRef, ...]
    ) -> tuple[dict[str, list[tuple[str, str]]], list[str], dict[str, list[str]]]:
        """Which account each typed job id belongs to.

        Returns ``(account → [(ats id, as typed)], not found (as typed), ambiguous id → account:id)``.
        An id with an account (``acme:123``) is taken as given: the switch reports it when missing.
        """
        loose = [ref.ats_id for ref in refs if ref.account is None]
        owners: dict[str, list[str]] = defaultdict(list)
        if loose:
            found = await models.Job.filter(
                ats_id__in=loose, account__name__in=list(self.config.accounts)
            ).values_list("ats_id", "account__name")
            for ats_id, name in found:
                owners[ats_id].append(name)
        by_account: dict[str, list[tuple[str, str]]] = defaultdict(list)
        missing: list[str] = []
        ambiguous: dict[str, list[str]] = {}
        for ref in refs:
            names = [ref.account] if ref.account else sorted(owners.get(ref.ats_id, []))
            if not names:
                missing.append(str(ref))
            elif len(names) == 1:
                by_account[names[0]].append((ref.ats_id, str(ref)))
            else:
                ambiguous[ref.ats_id] = [f"{name}:{ref.ats_id}" for name in names]
        return by_account, missing, ambiguous

    async def _switched(self, account: LiveAccount, ats_ids: list[str]) -> list[blocks.Switched]:
        titles = dict(
            await models.Job.filter(account_id=account.row.id, ats_id__in=ats_ids).values_list(
                "ats_id", "title"
            )
        )
        return [blocks.Switched(account.name, ats_id, titles.get(ats_id, "")) for ats_id in ats_ids]

    async def _switch_jobs(self, command: SwitchJobs, user: str) -> Reply:
        by_account, missing, ambiguous = await self._resolve(command.refs)
        report = blocks.SwitchReport(
            on=command.on, missing=missing, ambiguous=ambiguous, several_accounts=self.several_accounts
        )
        for name, pairs in by_account.items():
            account = await get_account(self.config, name)
            typed = dict(pairs)
            result = await switch_jobs(account, list(typed), on=command.on, actor=user, source=SOURCE)
            report.switched += await self._switched(account, result.switched)
            report.already += await self._switched(account, result.already)
            report.missing += [typed[ats_id] for ats_id in result.missing]
        announcement = None
        if report.switched:
            announcement = blocks.switch_announcement(
                user, command.on, report.switched, self.several_accounts
            )
        return Reply(blocks.switch_report(report), announcement)

    async def _bid_job(self, command: BidJob, user: str) -> Reply:
        owners, missing, ambiguous = await self._resolve([command.ref])
        if missing or ambiguous:
            return Reply(blocks.unresolved(missing, ambiguous))
        name, [(ats_id, typed)] = next(iter(owners.items()))
        account = await get_account(self.config, name)
        try:
            result = await set_bid(
                account, self.services.plugins, ats_id, command.cents, actor=user, source=SOURCE
            )
        except BidNotWritten as error:
            return Reply(blocks.note(f"{blocks.WARNING} {blocks.escape(str(error))}"))
        if not result.found:  # named with its account (``acme:123``), or gone since it was looked up
            return Reply(blocks.unresolved([typed], {}))
        [job] = await self._switched(account, [ats_id])
        change = blocks.BidChange(job, result.before, result.after, result.changed)
        announcement = blocks.bid(change, self.several_accounts, actor=user) if result.changed else None
        return Reply(blocks.bid(change, self.several_accounts), announcement)

    async def _switch_integration(self, command: SwitchIntegration, user: str) -> Reply:
        account = await get_account(self.config, command.account)
        changed = await set_integration(account, enabled=command.on, actor=user, source=SOURCE)
        announcement = blocks.integration(account.name, command.on, changed, actor=user) if changed else None
        return Reply(blocks.integration(account.name, command.on, changed), announcement)

    async def _map_stage(self, command: MapStage, user: str) -> Reply:
        account = await get_account(self.config, command.account)
        before = await map_stage(
            account,
            command.stage_id,
            command.funnel_event,
            workflow=command.workflow,
            actor=user,
            source=SOURCE,
        )
        key = f"{command.workflow}:{command.stage_id}" if command.workflow else command.stage_id
        return Reply(blocks.stage_mapped(account.name, key, before, command.funnel_event))

    async def _sync(self, command: Sync, user: str) -> Reply:
        result = await self.services.scheduler.sync(command.account)
        if result is None:
            return Reply(blocks.note(f"{blocks.WARNING} The hub is shutting down: the sync was stopped."))
        return Reply(blocks.sync_result(command.account, result.summary(), result.error))

    async def _reconcile(self, command: Reconcile, user: str) -> Reply:
        account = await get_account(self.config, command.account)
        if not self.services.plugins.implements(account.config.adapter, "appcast_hub_fetch_recent_events"):
            return Reply(
                blocks.note(f"The {account.config.adapter} adapter cannot be asked for missed events.")
            )
        result = await self.services.scheduler.reconcile(command.account)
        return Reply(blocks.reconciled(command.account, result))

    async def _lint(self, command: Lint, user: str) -> Reply:
        health = await feed_health(await get_account(self.config, command.account))
        return Reply(blocks.feed_health(health.as_json()))

    async def _held(self, command: Held, user: str) -> Reply:
        account = await get_account(self.config, command.account)
        if command.action is None:
            return Reply(blocks.held(account.name, await held.held_now(account.row.id)))
        return await self._resolve_held(account, user, confirmed=command.action == "confirm")

    async def click_held(self, user: str, value: str, *, confirmed: bool) -> Reply:
        """Confirm or Keep on a held mass close: only the close the button was shown for."""
        shown = held.read_button_value(value)
        if shown is None or shown[0] not in self.config.accounts:
            return Reply(STALE_BUTTON)
        if not await self.gate.may_change(user):
            return Reply(self.gate.refusal(user))
        account = await get_account(self.config, shown[0])
        return await self._resolve_held(account, user, confirmed=confirmed, replace=True, change_id=shown[1])

    async def _resolve_held(
        self, account: LiveAccount, user: str, *, confirmed: bool, replace: bool = False,
        change_id: int | None = None,
    ) -> Reply:  # fmt: skip
        resolve = held.confirm if confirmed else held.keep
        jobs = await resolve(account, actor=user, source=SOURCE, change_id=change_id)
        announcement = (
            blocks.held_resolved(account.name, confirmed, jobs, actor=user) if jobs is not None else None
        )
        return Reply(blocks.held_resolved(account.name, confirmed, jobs), announcement, replace)

    async def _retry(self, command: Retry, user: str) -> Reply:
        asked = None if command.delivery_id is None else [command.delivery_id]
        ids = await replay(asked, actor=user, source=SOURCE)
        state = None
        if command.delivery_id is not None and not ids:
            row = await models.Delivery.get_or_none(id=command.delivery_id)
            state = row.state if row is not None else None
        return Reply(blocks.retried(ids, command.delivery_id, state))


def _unknown_account(error: UnknownAccount) -> Reply:
    # Typed names are checked by the parser: this is a button drawn before its account left the config.
    return Reply(blocks.note(f"{blocks.WARNING} {blocks.escape(str(error))}"))


def _stats_line(label: str, stats: JobStats) -> blocks.StatsLine:
    return blocks.StatsLine(label, stats.views, stats.applies, stats.hires, stats.conversion)

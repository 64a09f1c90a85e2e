"""The ``appcast-hub`` command: serve, check-config, migrate, plugins, sync, jobs, feed.

Exit codes: 0 done, 1 the work failed (an ATS down, a database unreachable), 2 the configuration or the
command line is wrong. A bad config is one line on stderr naming file, key and problem, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import logging
import os
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from hub import __version__, db, held
from hub.accounts import LiveAccount, UnknownAccount, ensure_accounts, get_account, set_integration
from hub.app import HTTP_TIMEOUT, create_app, freeze_heap
from hub.audit import MAX_RECENT, entry_json, recent_entries
from hub.config import NO_FUNNEL_EVENT, HubConfig, bind_plugins, config_path, load_config
from hub.deliveries import list_deliveries, replay
from hub.errors import ConfigError, HubError
from hub.events import reconcile_account
from hub.expiry import expire_due
from hub.feed import write_feed
from hub.health import feed_health, health_summary
from hub.incidents import MAX_LISTED, list_incidents
from hub.jobs import (
    DEFAULT_BID,
    BadBid,
    BidNotWritten,
    bid_text,
    list_jobs,
    parse_bid,
    set_bid,
    switch_jobs,
)
from hub.jsonio import dumps
from hub.logs import redactor, setup_logging
from hub.normalised import FUNNEL_EVENTS
from hub.plugins import HOOK_PREFIX, PluginHost, load_plugins
from hub.stages import account_stages, map_stage
from hub.stats import job_stats, parse_period, stats_report, top_jobs
from hub.status import AccountStatus, account_status
from hub.sync import sync_account

_LOGGER = logging.getLogger(__name__)

EXIT_FAILED = 1
EXIT_USAGE = 2


class CommandFailed(HubError):
    """The command ran but could not do its work; the message says why."""


def _load(args: argparse.Namespace) -> tuple[HubConfig, PluginHost]:
    config = load_config(config_path(args.config))
    setup_logging(config.logging["level"], config.logging["format"])
    plugins = load_plugins(config.plugins_disabled)
    return bind_plugins(config, plugins), plugins


@asynccontextmanager
async def _opened(config: HubConfig) -> AsyncIterator[aiohttp.ClientSession]:
    async with (
        db.database(config.database_url, run_migrations=config.database["migrate_on_start"]),
        aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http,
    ):
        await ensure_accounts(config)
        yield http


def _json(document: object) -> None:
    """``--json``: one JSON document, in the shape the admin API answers."""
    print(dumps(document, indent=2))


def _run(work: Callable[[], Awaitable[int | None]]) -> int:
    return asyncio.run(work()) or 0  # type: ignore[arg-type]


# --- commands -----------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the hub until SIGTERM or SIGINT, then finish in-flight work and exit 0."""
    config, plugins = _load(args)
    for warning in config.warnings:
        _LOGGER.warning("config: %s", warning)
    host = args.host or config.server["host"]
    port = args.port or config.server["port"]
    # The links the hub writes (feed URLs, pixels) follow where it really listens, unless public_url says.
    config = dataclasses.replace(config, server={**config.server, "host": host, "port": port})
    # Bound before anything starts: a taken port is one line and exit 1, not a started and stopped hub.
    try:
        listening = socket.create_server(
            (host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET
        )
    except OSError as error:
        reason = os.strerror(error.errno).lower() if error.errno else str(error)
        raise OSError(f"cannot listen on {host}:{port}: {reason}") from None

    def serving(_: str) -> None:
        # run_app calls this once its sockets are bound, so the line never announces a port it lacks.
        _LOGGER.info(
            "appcast-hub %s serving on http://%s:%s (database %s, accounts: %s)",
            __version__, host, port, db.describe_url(config.database_url),
            ", ".join(config.accounts) or "none",
        )  # fmt: skip
        freeze_heap()  # started: what exists now lives as long as the process

    web.run_app(
        create_app(config, plugins),
        sock=listening,
        shutdown_timeout=config.server["shutdown_timeout"],
        print=serving,
        access_log=logging.getLogger("aiohttp.access"),
    )
    _LOGGER.info("appcast-hub stopped")
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate the config and print what would run, secrets hidden."""
    config, plugins = _load(args)
    slack = config.slack
    token = asyncio.run(_check_slack_token(slack)) if slack["enabled"] else None
    accounts = {
        account.name: {
            "adapter": account.adapter, "feed_policy": account.feed_policy, "enabled": account.enabled,
            "plugins": {plugin: _shown_options(plugins, plugin, options)
                        for plugin, options in account.plugin_options.items()},
        }
        for account in config.accounts.values()
    }  # fmt: skip
    if args.json:
        _json({
            "config": str(config.path), "database": db.describe_url(config.database_url),
            "public_url": config.public_url, "admin_api": bool(config.admin["api_token"]),
            "slack": {"enabled": slack["enabled"], "socket_mode": slack["socket_mode"],
                      "admins": len(slack["admins"]), "token": token.describe() if token else None},
            "plugins": plugins.names(), "broken": _broken(plugins), "accounts": accounts,
            "warnings": list(config.warnings),
        })  # fmt: skip
    else:
        _print_config(config, plugins, token, accounts)
    if token is not None and token.ok is False:
        print("appcast-hub: config error: slack.bot_token: Slack refused it", file=sys.stderr)
        return EXIT_USAGE
    if not args.json:
        print("ok")
    return 0


def _broken(plugins: PluginHost) -> list[dict[str, str]]:
    return [{"name": broken.name, "error": broken.error} for broken in plugins.broken]


def _shown_options(plugins: PluginHost, plugin: str, options: Mapping[str, Any]) -> dict[str, Any]:
    secrets = plugins.info(plugin).secret_names()
    return {
        k: "***" if k in secrets and v else str(v) if isinstance(v, Path) else v for k, v in options.items()
    }


def _print_config(config: HubConfig, plugins: PluginHost, token: Any, accounts: Mapping[str, Any]) -> None:
    print(f"config:   {config.path}")
    print(f"database: {db.describe_url(config.database_url)}")
    print(f"server:   http://{config.server['host']}:{config.server['port']} (public {config.public_url})")
    print(f"admin:    {'API on' if config.admin['api_token'] else 'API off (no admin.api_token)'}")
    slack = config.slack
    if slack["enabled"]:
        transport = "Socket Mode" if slack["socket_mode"] else "HTTP at /slack/events"
        group = f" + user group {slack['admin_usergroup']}" if slack["admin_usergroup"] else ""
        print(f"slack:    on ({transport}), {len(slack['admins'])} admins{group}")
        print(f"          {token.describe()}")
    else:
        print("slack:    off")
    print(f"plugins:  {', '.join(plugins.names())}")
    for broken in plugins.broken:
        print(f"  broken: {broken.name}: {broken.error}")
    for name, account in accounts.items():
        print(
            f"account {name}: adapter {account['adapter']}, feed policy {account['feed_policy']}, "
            f"integration {'on' if account['enabled'] else 'off'}"
        )
        for plugin, shown in account["plugins"].items():
            print(f"  {plugin}: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    for warning in config.warnings:
        print(f"warning: {warning}")


async def _check_slack_token(settings: Mapping[str, Any]) -> Any:
    # Imported here: a hub without Slack never loads slack_sdk. Without a session of its own, the
    # client opens and closes one for the call.
    from slack_sdk.web.async_client import AsyncWebClient

    from hub.slack.token import check_token

    return await check_token(AsyncWebClient(token=settings["bot_token"], base_url=settings["api_base_url"]))


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply pending migrations."""
    config = load_config(config_path(args.config))
    setup_logging(config.logging["level"], config.logging["format"])
    _run(lambda: db.migrate(config.database_url))
    print(f"database {db.describe_url(config.database_url)} is up to date")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    """List installed plugins, their versions and hooks; broken ones with the reason."""
    disabled: frozenset[str] = frozenset()
    path = config_path(args.config)
    if args.config or path.exists():
        disabled = load_config(path).plugins_disabled
    plugins = load_plugins(disabled)
    if args.json:
        records = [
            {"name": r.name, "version": r.version, "kind": r.info.kind, "description": r.info.description,
             "hooks": [h.removeprefix(HOOK_PREFIX) for h in r.hooks]}
            for r in plugins.records()
        ]  # fmt: skip
        _json({"plugins": records, "broken": _broken(plugins), "disabled": plugins.disabled})
        return 0
    for record in plugins.records():
        hooks = ", ".join(h.removeprefix(HOOK_PREFIX) for h in record.hooks)
        print(f"{record.name} {record.version or '?'} ({record.info.kind}) {record.info.description}")
        print(f"    hooks: {hooks}")
    for broken in plugins.broken:
        print(f"{broken.name} BROKEN: {broken.error}")
    for name, where in sorted(plugins.disabled.items()):
        print(f"{name} disabled (by {where})")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """Sync one account (or all) now and print what changed."""
    config, plugins = _load(args)
    names = [args.account] if args.account else sorted(config.accounts)

    async def work() -> int:
        failed = False
        results = []
        async with _opened(config) as http:
            for name in names:
                account = await get_account(config, name)
                result = await sync_account(plugins, http, account, full=True if args.full else None)
                results.append(result.as_json())
                if not args.json:
                    print(result.summary())
                failed = failed or result.error is not None
        if args.json:
            _json({"accounts": results})
        return EXIT_FAILED if failed else 0

    return _run(work)


def _pick_account(config: HubConfig, name: str | None) -> str:
    if name:
        return name
    if len(config.accounts) == 1:
        return next(iter(config.accounts))
    raise CommandFailed(f"say which account with -a (configured: {', '.join(sorted(config.accounts))})")


def cmd_jobs(args: argparse.Namespace) -> int:
    """List jobs, switch them on or off for Appcast, or set one's bid."""
    config, plugins = _load(args)
    name = _pick_account(config, args.account)
    try:
        # Checked before the database is opened: a mistyped amount is the command line's fault.
        cents = parse_bid(args.amount) if args.action == "bid" else None
    except BadBid as error:
        raise CommandFailed(f"{error}; or `{DEFAULT_BID}` for the account's default") from None

    async def work() -> int:
        async with _opened(config):
            account = await get_account(config, name)
            if args.action == "list":
                total, rows = await list_jobs(
                    account, status=args.status, flag=args.flag, text=" ".join(args.words),
                    limit=args.limit, offset=args.offset,
                )  # fmt: skip
                for row in rows:
                    del row["id"]  # the database's own: neither the API nor a script names jobs by it
                if args.json:
                    _json({"total": total, "jobs": rows})
                    return 0
                for row in rows:
                    flag = {True: "on", False: "off", None: "-"}[row["appcast"]]
                    state = "open" if row["is_open"] else "closed"
                    feed = "in feed" if row["in_feed"] else ""
                    bid = f"bid {row['bid'] or DEFAULT_BID}"
                    print(f"{row['ats_id']:<24} {state:<6} appcast:{flag:<3} {feed:<7} {bid:<12} "
                          f"{row['title']}")  # fmt: skip
                print(f"{len(rows)} of {total} jobs")
                return 0
            if args.action == "bid":
                return await _bid(account, plugins, args.id, cents, json=args.json)
            result = await switch_jobs(
                account, args.ids, on=args.action == "enable", actor=_actor(),
                source="cli",
            )  # fmt: skip
            word = "on" if args.action == "enable" else "off"
            said = ((f"switched {word}", result.switched), (f"already {word}", result.already),
                    (f"no such job in {name}", result.missing))  # fmt: skip
            if args.json:
                _json(result.as_json())
            else:
                for words, ids in said:
                    if ids:
                        print(f"{words}: {', '.join(ids)}")
            return EXIT_FAILED if result.missing else 0

    return _run(work)


async def _bid(
    account: LiveAccount, plugins: PluginHost, ats_id: str, cents: int | None, *, json: bool
) -> int:
    try:
        result = await set_bid(account, plugins, ats_id, cents, actor=_actor(), source="cli")
    except BidNotWritten as error:
        return _bid_refused(str(error), json=json)
    if not result.found:
        return _bid_refused(f"account {account.name!r} has no job {ats_id!r}", json=json)
    if json:
        _json(result.as_json())
        return 0
    shown = bid_text(cents) or f"{DEFAULT_BID} (the account's)"
    if result.changed:
        print(f"{ats_id}: bid {shown}, was {bid_text(result.before) or DEFAULT_BID}")
    else:
        print(f"{ats_id}: bid already {shown}")
    return 0


def _bid_refused(problem: str, *, json: bool) -> int:
    if json:
        _json({"error": problem})
    else:
        print(f"appcast-hub: {problem}", file=sys.stderr)
    return EXIT_FAILED


def cmd_feed(args: argparse.Namespace) -> int:
    """Write the account's feed, exactly as served, to a file (replaced whole) or stdout; or lint it."""
    if args.words[0] == "lint" and len(args.words) == 2:
        return _feed_lint(args, args.words[1])
    if len(args.words) != 1:
        raise CommandFailed("say `feed ACCOUNT [-o FILE]`, or `feed lint ACCOUNT [--json]`")
    config, plugins = _load(args)
    name = args.words[0]
    # Written beside the target and renamed over it, so a failure never leaves half a feed behind.
    partial = args.output.with_name(args.output.name + ".partial") if args.output else None
    out = partial.open("wb") if partial else sys.stdout.buffer

    async def sink(data: bytes) -> None:
        out.write(data)

    async def work() -> int:
        async with _opened(config):
            account = await get_account(config, name)
            await expire_due(account)  # as a serving hub's scheduler would have by now
            return await write_feed(account, plugins, sink)

    try:
        count = _run(work)
    except BaseException:
        if partial:
            out.close()
            partial.unlink(missing_ok=True)
        raise
    if partial:
        out.close()
        os.replace(partial, args.output)
    print(f"{count} jobs", file=sys.stderr)
    return 0


def _feed_lint(args: argparse.Namespace, name: str) -> int:
    config, _ = _load(args)

    async def work() -> int:
        async with _opened(config):
            health = await feed_health(await get_account(config, name))
        if args.json:
            _json(health.as_json())
            return 0
        for finding in health.findings:
            print(f"{finding['rule']:<24} {finding['ats_id']:<24} {finding['message']}")
        print(f"{health.jobs} jobs in the feed of {name}: {health_summary(dict(health.counts))}")
        return 0

    return _run(work)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def cmd_deliveries(args: argparse.Namespace) -> int:
    """List the outbox, or replay dead deliveries."""
    config, _ = _load(args)

    async def work() -> int:
        async with _opened(config):
            if args.action == "retry":
                targets = args.ids
                if targets != ["dead"] and not all(t.isdigit() for t in targets):
                    raise CommandFailed("give delivery ids, or 'dead' for every dead delivery")
                ids = None if targets == ["dead"] else [int(t) for t in targets]
                replayed = await replay(ids, actor=_actor(), source="cli")
                missing = sorted(set(ids or ()) - set(replayed))
                listed = ", ".join(map(str, missing))
                problem = f"not dead (or no such delivery): {listed}" if missing else None
                if args.json:
                    _json({"replayed": replayed, **({"error": problem} if problem else {})})
                    return EXIT_FAILED if missing else 0
                if replayed:
                    print(f"replayed: {', '.join(map(str, replayed))}")
                elif ids is None:
                    print("nothing dead to replay")
                if problem:
                    print(problem)
                return EXIT_FAILED if missing else 0
            account_id = (await get_account(config, args.account)).row.id if args.account else None
            total, rows = await list_deliveries(account_id=account_id, state=args.state, limit=args.limit)
            if args.json:
                _json({"total": total, "deliveries": rows})
                return 0
            for row in rows:
                error = f"  {row['last_error']}" if row["last_error"] else ""
                print(f"{row['id']:>8} {row['account']:<16} {row['event'] or '-':<10} {row['state']:<9} "
                      f"attempts:{row['attempts']}{error}")  # fmt: skip
            print(f"{len(rows)} of {total} deliveries")
            return 0

    return _run(work)


def cmd_stages(args: argparse.Namespace) -> int:
    """Show an account's stages and their funnel events, or map one."""
    config, plugins = _load(args)

    async def work() -> int:
        async with _opened(config) as http:
            account = await get_account(config, args.account)
            if args.action == "map":
                funnel = None if args.event == NO_FUNNEL_EVENT else args.event
                before = await map_stage(
                    account, args.stage, funnel, workflow=args.workflow, actor=_actor(), source="cli"
                )
                if args.json:
                    _json({"stage_id": args.stage, "before": before, "funnel_event": funnel})
                else:
                    print(f"{args.stage}: {before or 'unmapped'} → {funnel or 'none'}")
                return 0
            report = await account_stages(account, plugins, http)
            if args.json:
                _json(report.as_json())
                return 0
            if report.ats_error:
                print(f"the ATS did not list its stages: {report.ats_error}", file=sys.stderr)
            if report.empty_reason:
                print(f"no stages: {report.empty_reason}")
            for view in report.stages:
                where = f"{view.workflow}/" if view.workflow else ""
                seen = f" ({view.unmapped_events} events while unmapped)" if view.unmapped_events else ""
                print(
                    f"{where}{view.id:<40} {view.name:<28} {view.funnel_event or '-':<10} {view.origin}{seen}"
                )
            return 0

    return _run(work)


def cmd_stats(args: argparse.Namespace) -> int:
    """Pixel views, applies, conversion and hires, for an account or one job, over a period or all time."""
    config, _ = _load(args)
    try:
        period = parse_period(args.since, args.until)
    except ValueError as error:
        raise CommandFailed(str(error)) from None

    async def work() -> int:
        async with _opened(config):
            account = await get_account(config, args.account)
            if args.json:
                _json(await stats_report(account, args.job, args.limit, period))
                return 0
            if args.job:
                rows = [await job_stats(account, args.job, period)]
            else:
                rows = [await job_stats(account, period=period), *await top_jobs(account, args.limit, period)]
            for stats in rows:
                conversion = f"{stats.conversion:.1%}" if stats.conversion is not None else "-"
                print(
                    f"{stats.ats_job_id or 'all jobs':<24} views {stats.views:>8}  "
                    f"applies {stats.applies:>6}  conversion {conversion:>6}  hires {stats.hires:>4}"
                )
            return 0

    return _run(work)


def cmd_reconcile(args: argparse.Namespace) -> int:
    """Poll the ATS now for events webhooks missed (the running hub sends the deliveries)."""
    config, plugins = _load(args)
    names = [args.account] if args.account else sorted(config.accounts)

    async def work() -> int:
        failed = False
        results: list[dict[str, Any]] = []
        async with _opened(config) as http:
            for name in names:
                account = await get_account(config, name)
                if not plugins.implements(account.config.adapter, "appcast_hub_fetch_recent_events"):
                    problem = f"the {account.config.adapter} adapter cannot be polled for events"
                    results.append({"account": name, "error": problem})
                    # Asked for by name, it is work that cannot be done; among all accounts, one to pass over.
                    failed = failed or args.account is not None
                    if not args.json:
                        print(f"{name}: {problem}")
                    continue
                lookback = timedelta(hours=config.events["reconcile_lookback_hours"])
                result = await reconcile_account(account, plugins, http, lookback)
                failed = failed or result is None
                if result is None:
                    results.append({"account": name, "error": "the ATS could not be polled: see the log"})
                else:
                    results.append({"account": name, **result.as_json(), "error": None})
                if args.json:
                    continue
                if result is None:
                    print(f"{name}: reconciliation failed (see the log)")
                else:
                    print(f"{name}: {result.stored} new events, {result.duplicates} already known, "
                          f"{result.deliveries} deliveries queued")  # fmt: skip
        if args.json:
            _json({"accounts": results})
        return EXIT_FAILED if failed else 0

    return _run(work)


def _print_status(status: AccountStatus) -> None:
    sync = "not synced yet"
    if status.sync_ok is not None:
        when = status.sync_finished_at.isoformat(timespec="seconds") if status.sync_finished_at else "?"
        failing = f"failing ({status.sync_failures} in a row): {status.sync_error}"
        sync = f"synced {when}" if status.sync_ok else failing
    integration = "on" if status.enabled else "off"
    print(f"{status.name}: {status.company} ({status.adapter}), integration {integration}")
    print(f"  sync:       {sync}")
    print(f"  feed:       {status.feed_url}: {status.feed_jobs} of {status.open_jobs} open jobs "
          f"({status.feed_policy})")  # fmt: skip
    print(f"  deliveries: {', '.join(f'{n} {state}' for state, n in status.deliveries.items())}")
    for destination, state in status.breakers.items():
        print(f"  breaker:    {destination} {state}")
    if status.held is not None:
        print(f"  HELD:       {status.held.summary()}: appcast-hub held {status.name} confirm|keep")
    print(f"  health:     {health_summary(status.health)}: appcast-hub feed lint {status.name}")


def cmd_status(args: argparse.Namespace) -> int:
    """Every account (or one) at a glance: switches, last sync, feed, deliveries, held changes."""
    config, _ = _load(args)
    names = [args.account] if args.account else sorted(config.accounts)

    async def work() -> int:
        async with _opened(config):
            accounts = [await get_account(config, name) for name in names]
            for account in accounts:
                # No hub process of ours has checked the feed's health: check it now, for the status.
                await feed_health(account)
            statuses = [await account_status(config, account) for account in accounts]
        if args.json:
            _json({"accounts": [status.as_json() for status in statuses]})
        else:
            for status in statuses:
                _print_status(status)
        return 0

    return _run(work)


def cmd_held(args: argparse.Namespace) -> int:
    """Show the mass close a sync held back, or confirm it (the jobs close) or keep the jobs open."""
    config, _ = _load(args)

    async def work() -> int:
        async with _opened(config):
            account = await get_account(config, args.account)
            if args.action is None:
                change = await held.held_now(account.row.id)
                if args.json:
                    _json({"held": change.as_json() if change is not None else None})
                elif change is None:
                    print(f"{account.name}: nothing held")
                else:
                    print(f"{account.name}: {change.summary()}")
                    print(f"  among them: {', '.join(change.sample)}")
                    print(f"  appcast-hub held {account.name} confirm   # close them")
                    print(f"  appcast-hub held {account.name} keep      # keep them open")
                return 0
            resolve = held.confirm if args.action == "confirm" else held.keep
            jobs = await resolve(account, actor=_actor(), source="cli")
            if jobs is None:
                if args.json:
                    _json({"error": f"account {account.name!r} has no held change"})
                else:
                    print(f"{account.name}: nothing held", file=sys.stderr)
                return EXIT_FAILED
            if args.json:
                _json({"closed" if args.action == "confirm" else "kept": jobs})
                return 0
            print(f"{account.name}: {'closed' if args.action == 'confirm' else 'kept open'} {jobs} jobs")
            return 0

    return _run(work)


def cmd_integration(args: argparse.Namespace) -> int:
    """Switch an account's Appcast integration on or off."""
    config, _ = _load(args)

    async def work() -> int:
        async with _opened(config):
            account = await get_account(config, args.account)
            on = args.state == "on"
            changed = await set_integration(account, enabled=on, actor=_actor(), source="cli")
            if args.json:
                _json({"enabled": on, "changed": changed})
            else:
                print(f"{account.name}: integration {'switched' if changed else 'already'} {args.state}")
            return 0

    return _run(work)


def cmd_incidents(args: argparse.Namespace) -> int:
    """The open incidents (or every one), newest first."""
    config, _ = _load(args)

    async def work() -> int:
        async with _opened(config):
            account_id = (await get_account(config, args.account)).row.id if args.account else None
            found = await list_incidents(account_id=account_id, every=args.all, limit=args.limit)
        if args.json:
            _json({"incidents": found})
            return 0
        for incident in found:
            since = incident["opened_at"].isoformat(timespec="seconds")
            state = (
                f"resolved {incident['resolved_at']:%Y-%m-%d %H:%M}" if incident["resolved_at"] else "open"
            )
            print(f"{incident['id']:>6} {since} {state}: {incident['title']}\n         {incident['detail']}")
        if not found:
            print("no incident" if args.all else "no open incident")
        return 0

    return _run(work)


def cmd_audit(args: argparse.Namespace) -> int:
    """The newest changes and who made them, from every surface."""
    config, _ = _load(args)

    async def work() -> int:
        async with _opened(config):
            entries = await recent_entries(args.limit)
        if args.json:
            _json({"entries": [entry_json(entry) for entry in entries]})
            return 0
        for entry in entries:
            where = f" {entry.account_name}" if entry.account_name else ""
            target = f" {entry.target}" if entry.target else ""
            print(f"{entry.at.isoformat(timespec='seconds')} {entry.actor} ({entry.source}) {entry.action}"
                  f"{where}{target}: {dumps(entry.before)} → {dumps(entry.after)}")  # fmt: skip
        if not entries:
            print("no changes recorded yet")
        return 0

    return _run(work)


# --- argument parsing ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The command line, for ``main`` and for documentation."""
    parser = argparse.ArgumentParser(
        prog="appcast-hub", description="Connect applicant tracking systems to Appcast."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    config_help = "config file (default: $APPCAST_HUB_CONFIG or ./config.toml)"
    # -c is taken before the command and after each sub-command (`-c X jobs list`, `jobs -c X list`).
    parser.add_argument("-c", "--config", type=Path, default=None, help=config_help)
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a sub-command's parser must not reset a -c given before it.
    common.add_argument("-c", "--config", type=Path, default=argparse.SUPPRESS, help=config_help)
    # Every command that lists or reports: --json anywhere after its name, as -c.
    reporting = argparse.ArgumentParser(add_help=False, parents=[common])
    reporting.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="one JSON document, as the admin API gives it",
    )
    parser.set_defaults(json=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", parents=[common], help="run the hub")
    serve.add_argument("--host", help="override server.host")
    serve.add_argument("--port", type=int, help="override server.port")
    serve.set_defaults(func=cmd_serve)

    commands.add_parser(
        "check-config", parents=[reporting], help="validate the config and show what would run"
    ).set_defaults(func=cmd_check_config)
    commands.add_parser("migrate", parents=[common], help="apply database migrations").set_defaults(
        func=cmd_migrate
    )
    commands.add_parser(
        "plugins", parents=[reporting], help="list installed plugins and their hooks"
    ).set_defaults(func=cmd_plugins)

    sync = commands.add_parser("sync", parents=[reporting], help="sync jobs from the ATS now")
    sync.add_argument("account", nargs="?", help="one account (default: all)")
    sync.add_argument("--full", action="store_true", help="a full snapshot even if incremental is possible")
    sync.set_defaults(func=cmd_sync)

    jobs = commands.add_parser("jobs", parents=[reporting], help="list jobs, switch them for Appcast, bid")
    account_help = "the account (needed when several are configured)"
    jobs.add_argument("-a", "--account", help=account_help)
    # -a is taken before and after the action too (`jobs -a X list`, `jobs list -a X`), as -c is.
    choosing = argparse.ArgumentParser(add_help=False)
    choosing.add_argument("-a", "--account", default=argparse.SUPPRESS, help=account_help)
    actions = jobs.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[reporting, choosing], help="list jobs, newest first")
    listing.add_argument("words", nargs="*", help="words the title, city or id must contain")
    listing.add_argument("--status", choices=("open", "closed"))
    listing.add_argument("--flag", choices=("on", "off", "unset", "in-feed"))
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--offset", type=int, default=0)
    for action in ("enable", "disable"):
        switch = actions.add_parser(
            action, parents=[reporting, choosing], help=f"{action} jobs for Appcast by ATS id"
        )
        switch.add_argument("ids", nargs="+", metavar="ID")
    bidding = actions.add_parser(
        "bid", parents=[reporting, choosing], help="set a job's bid, its <cpc> in the feed (audited)"
    )
    bidding.add_argument("id", metavar="ID", help="the job's ATS id")
    bidding.add_argument(
        "amount", metavar="AMOUNT|default", help="like 1.50 (0 to 1000.00), or `default`: the account's"
    )
    jobs.set_defaults(func=cmd_jobs)

    deliveries = commands.add_parser("deliveries", parents=[reporting], help="the outbox: list, replay dead")
    deliveries.add_argument("-a", "--account", help="list only this account's")
    delivery_actions = deliveries.add_subparsers(dest="action", required=True, metavar="ACTION")
    delivery_list = delivery_actions.add_parser("list", parents=[reporting, choosing], help="newest first")
    delivery_list.add_argument("--state", choices=("pending", "delivered", "dead"))
    delivery_list.add_argument("--limit", type=int, default=50)
    delivery_retry = delivery_actions.add_parser("retry", parents=[reporting], help="replay dead deliveries")
    delivery_retry.add_argument("ids", nargs="+", metavar="ID|dead")
    deliveries.set_defaults(func=cmd_deliveries)

    stages = commands.add_parser("stages", parents=[reporting], help="stages and their funnel events")
    stages.add_argument("account")
    stage_actions = stages.add_subparsers(dest="action", metavar="ACTION")
    stage_map = stage_actions.add_parser("map", parents=[reporting], help="map a stage to a funnel event")
    stage_map.add_argument("stage", help="the ATS stage id")
    stage_map.add_argument("event", choices=(*FUNNEL_EVENTS, NO_FUNNEL_EVENT))
    stage_map.add_argument("--workflow", default="", help="the workflow, where the ATS has several")
    stages.set_defaults(func=cmd_stages)

    stats = commands.add_parser("stats", parents=[reporting], help="views, applies, conversion, hires")
    stats.add_argument("account")
    stats.add_argument("--job", help="one job's numbers (default: the account's and its top jobs)")
    stats.add_argument("--limit", type=int, default=10)
    stats.add_argument("--since", help="the period's first day, YYYY-MM-DD in UTC (default: all time)")
    stats.add_argument("--until", help="the period's last day, included (default: today, or all time)")
    stats.set_defaults(func=cmd_stats)

    reconcile = commands.add_parser("reconcile", parents=[reporting], help="poll the ATS for missed events")
    reconcile.add_argument("account", nargs="?", help="one account (default: all)")
    reconcile.set_defaults(func=cmd_reconcile)

    status = commands.add_parser("status", parents=[reporting], help="accounts at a glance")
    status.add_argument("account", nargs="?", help="one account (default: all)")
    status.set_defaults(func=cmd_status)

    held_command = commands.add_parser("held", parents=[reporting], help="a mass close a sync held back")
    held_command.add_argument("account")
    held_command.add_argument("action", nargs="?", choices=("confirm", "keep"), help="apply it, or keep open")
    held_command.set_defaults(func=cmd_held)

    integration = commands.add_parser(
        "integration", parents=[reporting], help="switch an account's integration"
    )
    integration.add_argument("account")
    integration.add_argument("state", choices=("on", "off"))
    integration.set_defaults(func=cmd_integration)

    incidents = commands.add_parser("incidents", parents=[reporting], help="what is wrong now, newest first")
    incidents.add_argument("-a", "--account", help="one account's only")
    incidents.add_argument("--all", action="store_true", help="resolved incidents too")
    incidents.add_argument(
        "-n", "--limit", type=int, default=MAX_LISTED, help=f"how many (at most {MAX_LISTED})"
    )
    incidents.set_defaults(func=cmd_incidents)

    audit = commands.add_parser("audit", parents=[reporting], help="the newest changes and who made them")
    audit.add_argument("-n", "--limit", type=int, default=10, help=f"how many (at most {MAX_RECENT})")
    audit.set_defaults(func=cmd_audit)

    feed = commands.add_parser("feed", parents=[reporting], help="write an account's feed, or lint it")
    feed.add_argument("words", nargs="+", metavar="ACCOUNT | lint ACCOUNT")
    feed.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    feed.set_defaults(func=cmd_feed)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``appcast-hub`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as error:
        print(f"appcast-hub: config error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (CommandFailed, UnknownAccount) as error:
        print(f"appcast-hub: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (HubError, OSError) as error:
        print(f"appcast-hub: {redactor.scrub(str(error))}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

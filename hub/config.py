"""Loading and validating the hub's TOML configuration; the one place where secrets are resolved.

Loading happens in two steps: :func:`load_config` reads the file, checks the hub's own sections and
resolves ``env:NAME`` secrets; :func:`bind_plugins` then checks each account's plugin tables against the
option schemas the loaded plugins declare. Either step raises :class:`~hub.errors.ConfigError` naming the
file, the key and the problem.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.errors import ConfigError
from hub.logs import redactor
from hub.normalised import DIGEST_SCHEDULES, FEED_POLICIES, FUNNEL_EVENTS, WEEKDAYS, Account
from hub.options import Option, checked_type, validate_options

if TYPE_CHECKING:
    from hub.plugins import PluginHost

CONFIG_ENV = "APPCAST_HUB_CONFIG"
ENV_PREFIX = "env:"
ACCOUNT_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


#: A whole number of at least 1 (not ``true``, which Python counts as 1).
AtLeastOne = checked_type(
    int, "a whole number of at least 1", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1
)
#: A positive number of seconds: 0 would make a loop spin.
Seconds = checked_type(
    float,
    "a number of seconds above 0",
    lambda v: isinstance(v, int | float) and not isinstance(v, bool) and v > 0,
)


SERVER_OPTIONS = (
    Option("host", "address to listen on", default="127.0.0.1"),
    Option("port", "TCP port to listen on", type=int, default=8080),
    Option("public_url", "URL the world reaches the hub at (feed and pixel links)", default=None),
    Option("max_body_bytes", "largest request body accepted", type=int, default=1024 * 1024),
    Option("shutdown_timeout", "seconds to finish in-flight work on SIGTERM", type=float, default=10.0),
)
DATABASE_OPTIONS = (
    Option(
        "url",
        "sqlite://PATH or postgres://USER:PASS@HOST/DB",
        default="sqlite://appcast-hub.sqlite3",
    ),
    Option("migrate_on_start", "apply pending migrations when the hub starts", type=bool, default=False),
)
LOGGING_OPTIONS = (
    Option("level", "log level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR")),
    Option("format", "log line format", default="text", choices=("text", "json")),
)
ADMIN_OPTIONS = (Option("api_token", "bearer token for /api; the admin API is off without one", secret=True),)
SYNC_OPTIONS = (
    Option("interval_minutes", "minutes between an account's syncs", type=float, default=15.0),
    Option("jitter_seconds", "random spread so accounts do not sync together", type=float, default=60.0),
    Option(
        "retry_seconds",
        "first retry after a failed sync comes about this soon, doubling per failure up to the interval",
        type=float,
        default=30.0,
    ),
    Option(
        "scheduled",
        "sync on a schedule (the first at start-up); false: only `appcast-hub sync`",
        type=bool,
        default=True,
    ),
)
EVENTS_OPTIONS = (
    Option("max_attempts", "delivery attempts before a delivery is dead-lettered", type=int, default=12),
    Option(
        "backoff_seconds",
        "first retry delay of a failed delivery (full-jitter, doubling)",
        type=float,
        default=5.0,
    ),
    Option("backoff_cap_seconds", "longest delay between two delivery attempts", type=float, default=3600.0),
    Option(
        "inbox_max_attempts",
        "tries to parse a stored webhook before it is marked failed",
        type=int,
        default=10,
    ),
    Option(
        "poll_seconds", "how often workers look for due work another process queued", type=float, default=2.0
    ),
    Option(
        "breaker_threshold",
        "outages in a row (no answer, 5xx, 429, credentials refused) that open a destination's breaker",
        type=AtLeastOne,
        default=5,
    ),
    Option(
        "breaker_probe_seconds",
        "while a breaker is open, one probe delivery per this many seconds at most, backing off "
        "(unset: backoff_seconds)",
        type=Seconds,
    ),
    Option(
        "breaker_probe_cap_seconds",
        "longest wait between two probes of an open breaker (unset: backoff_cap_seconds, at most 300)",
        type=Seconds,
    ),
    Option(
        "reconcile_minutes",
        "minutes between polls of the ATS for events webhooks missed",
        type=float,
        default=60.0,
    ),
    Option(
        "reconcile_lookback_hours", "how far back the first reconciliation looks", type=float, default=48.0
    ),
    Option(
        "webhook_max_age_seconds",
        "how long a webhook's identity is remembered against replays",
        type=float,
        default=7 * 24 * 3600.0,
    ),
)
PIXELS_OPTIONS = (
    Option(
        "spool_dir",
        "folder where pixel hits are appended before they are counted",
        type=Path,
        default=Path("pixel-spool"),
    ),
    Option("flush_seconds", "how often spooled pixel hits are added to the counts", type=float, default=2.0),
    Option(
        "max_spool_mb",
        "most MB of hits waiting to be counted (the database away); beyond, hits are dropped and counted",
        type=float,
        default=256.0,
    ),
    Option("keep_days", "days of per-job pixel counts kept", type=int, default=400),
)
FEED_OPTIONS = (
    Option(
        "cache_dir",
        "folder of the prebuilt feed files, one version per account (each replica its own)",
        type=Path,
        default=Path("feed-cache"),
    ),
)
PLUGINS_OPTIONS = (Option("disabled", "names of installed plugins not to load", type=list, default=[]),)
SLACK_OPTIONS = (
    Option("enabled", "run the /appcast Slack bot (POST /slack/events)", type=bool, default=False),
    Option("bot_token", "the Slack app's bot token (xoxb-…)", secret=True),
    Option("signing_secret", "the Slack app's signing secret: proves a request came from Slack", secret=True),
    Option("socket_mode", "connect out to Slack instead of receiving its requests", type=bool, default=False),
    Option("app_token", "app-level token (xapp-…) with connections:write, for Socket Mode", secret=True),
    Option("api_base_url", "Slack Web API base URL", default="https://slack.com/api/"),
    Option("admins", "Slack user ids (U…) who may change things from Slack", type=list, default=[]),
    Option("admin_usergroup", "Slack user group id (S…) whose members may change things too", default=None),
    Option("announce_channel", "channel id (C…) where switches are announced", default=None),
)
ACCOUNT_OPTIONS = (
    Option("adapter", "name of the ATS adapter plugin", required=True),
    Option("company", "employer name, the feed's <publisher>", required=True),
    Option("company_url", "employer's careers site, the feed's <publisherurl>", default=None),
    Option("enabled", "Appcast integration on for this account", type=bool, default=True),
    Option(
        "feed_policy",
        "which open jobs the feed holds",
        default="opted-in",
        choices=FEED_POLICIES,
    ),
    Option("feed_token", "if set, the feed needs ?token=", secret=True),
    Option("sync_interval_minutes", "overrides [sync] interval_minutes", type=float),
    Option("apply_key", "bearer key Appcast Apply sends to POST /apply/{account}/{job}", secret=True),
    Option(
        "mass_close_threshold",
        "a full sync closing more than this fraction of the open jobs is held for confirmation (1: never)",
        type=float,
        default=0.5,
    ),
    Option(
        "max_age_days",
        "a job posted longer ago than this leaves the feed until the ATS posts it again; none: never",
        type=int,
        default=None,
    ),
    Option(
        "digest",
        "a summary of the account to its notice sinks: off, daily, or weekly on digest_weekday",
        default="off",
        choices=DIGEST_SCHEDULES,
    ),
    Option("digest_at", "when the digest is sent, HH:MM wall-clock time in digest_timezone", default="09:00"),
    Option("digest_timezone", "the time zone of digest_at, an IANA name (Europe/Berlin)", default="UTC"),
    Option("digest_weekday", "the day a weekly digest is sent", default="monday", choices=WEEKDAYS),
)
#: ``digest_at``: 24-hour ``HH:MM``.
DIGEST_AT = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
#: The account sub-table mapping ATS stage ids to funnel events; every other sub-table is a plugin's.
STAGES_TABLE = "stages"
NO_FUNNEL_EVENT = "none"
TOP_LEVEL = (
    "server", "database", "logging", "admin", "sync", "events", "pixels", "feed", "plugins", "slack",
    "accounts",
)  # fmt: skip
#: Slack's ids: members start with U (or W in Enterprise Grid), user groups with S, channels with C or G.
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
SLACK_USERGROUP_ID = re.compile(r"S[A-Z0-9]{2,}")
SLACK_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")


@dataclass(frozen=True, slots=True)
class HubConfig:
    """The whole validated configuration."""

    path: Path
    server: Mapping[str, Any]
    database: Mapping[str, Any]
    logging: Mapping[str, Any]
    admin: Mapping[str, Any]
    sync: Mapping[str, Any]
    events: Mapping[str, Any]
    pixels: Mapping[str, Any]
    #: ``[feed]``: ``cache_dir`` resolved against the config file's folder.
    feed: Mapping[str, Any]
    #: ``[slack]``: ``admins`` is a tuple of user ids; ``api_base_url`` always ends with ``/``.
    slack: Mapping[str, Any]
    plugins_disabled: frozenset[str]
    accounts: Mapping[str, Account]
    #: What the plugins found risky in the accounts' options (:attr:`PluginInfo.check_options`), each
    #: naming the key: ``check-config`` prints them and the hub logs them when it starts.
    warnings: tuple[str, ...] = ()

    @property
    def database_url(self) -> str:
        """The database URL, with a relative SQLite path resolved against the config file's folder."""
        url: str = self.database["url"]
        if url.startswith("sqlite://") and url != "sqlite://:memory:":
            path = Path(url.removeprefix("sqlite://"))
            if not path.is_absolute():
                url = f"sqlite://{(self.path.parent / path).resolve()}"
        return url

    @property
    def public_url(self) -> str:
        """Base URL for links the hub hands out (feed URLs, pixel snippets), without a trailing slash."""
        url = self.server["public_url"] or f"http://{self.server['host']}:{self.server['port']}"
        return url.rstrip("/")


def config_path(explicit: str | os.PathLike[str] | None) -> Path:
    """The config file to use: ``-c PATH``, else ``$APPCAST_HUB_CONFIG``, else ``./config.toml``."""
    return Path(explicit or os.environ.get(CONFIG_ENV) or "config.toml")


def _the_line(text: str, problem: str) -> str:
    # tomllib says where ("at line 58, column 19") but not what: quote the line, so a key given twice
    # (a table pasted into a copy that has it) is named.
    where = re.search(r"at line (\d+)", problem)
    lines = text.splitlines()
    if where is None or not 0 < int(where[1]) <= len(lines):
        return ""
    return f": {lines[int(where[1]) - 1].strip()[:80]!r}"


def load_config(path: str | os.PathLike[str]) -> HubConfig:
    """Read and check the hub's own sections; plugin tables are checked later by :func:`bind_plugins`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except FileNotFoundError:
        hint = "give -c PATH, or copy config.example.toml to config.toml"
        raise ConfigError(f"file not found ({hint})", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read: {error}", file=str(path)) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"not valid TOML: {error}{_the_line(text, str(error))}", file=str(path)) from None
    try:
        return _parse(raw, path)
    except ConfigError as error:
        error.file = str(path)
        raise


def _parse(raw: dict[str, Any], path: Path) -> HubConfig:
    for key in raw:
        if key not in TOP_LEVEL:
            raise ConfigError(f"unknown section (known: {', '.join(TOP_LEVEL)})", key=key)
    raw = _resolve_secrets(raw, "")
    base_dir = path.parent.resolve()

    def section(name: str, options: tuple[Option, ...]) -> dict[str, Any]:
        table = raw.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError("must be a table", key=name)
        return validate_options(options, table, key=name, base_dir=base_dir)

    server = section("server", SERVER_OPTIONS)
    if not 0 < server["port"] < 65536:
        raise ConfigError("must be between 1 and 65535", key="server.port")
    database = section("database", DATABASE_OPTIONS)
    if not database["url"].startswith(("sqlite://", "postgres://", "postgresql://")):
        raise ConfigError("must start with sqlite:// or postgres://", key="database.url")
    accounts_raw = raw.get("accounts", {})
    if not isinstance(accounts_raw, dict):
        raise ConfigError("must be a table of accounts", key="accounts")
    accounts = {name: _parse_account(name, table, base_dir) for name, table in accounts_raw.items()}
    return HubConfig(
        path=path,
        server=server,
        database=database,
        logging=section("logging", LOGGING_OPTIONS),
        admin=section("admin", ADMIN_OPTIONS),
        sync=section("sync", SYNC_OPTIONS),
        events=section("events", EVENTS_OPTIONS),
        pixels=section("pixels", PIXELS_OPTIONS),
        feed=section("feed", FEED_OPTIONS),
        slack=_parse_slack(section("slack", SLACK_OPTIONS)),
        plugins_disabled=frozenset(section("plugins", PLUGINS_OPTIONS)["disabled"]),
        accounts=accounts,
    )


def _parse_slack(values: dict[str, Any]) -> dict[str, Any]:
    """Check what the bot needs before anything starts: a typo here would only show when someone types."""
    if values["enabled"]:
        needed = ("bot_token", "signing_secret", *(("app_token",) if values["socket_mode"] else ()))
        for option in SLACK_OPTIONS:
            if option.name in needed and not values[option.name]:
                raise ConfigError(
                    f"required when Slack is enabled ({option.help})", key=f"slack.{option.name}"
                )
    for position, admin in enumerate(values["admins"]):
        # A name or @handle here would silently make nobody an admin.
        if not isinstance(admin, str) or not SLACK_USER_ID.fullmatch(admin):
            raise ConfigError(
                "must be a Slack member id like U012AB3CDE (profile → ⋮ → Copy member ID)",
                key=f"slack.admins[{position}]",
            )
    for name, pattern, example in (
        ("admin_usergroup", SLACK_USERGROUP_ID, "S0614TZR7"),
        ("announce_channel", SLACK_CHANNEL_ID, "C012AB3CD"),
    ):
        if values[name] is not None and not pattern.fullmatch(values[name]):
            raise ConfigError(f"must be a Slack id like {example}", key=f"slack.{name}")
    if not values["api_base_url"].startswith(("https://", "http://")):
        raise ConfigError("must be an http(s) URL", key="slack.api_base_url")
    redactor.add(values[name] for name in ("bot_token", "signing_secret", "app_token") if values[name])
    # slack_sdk joins method names onto the base URL: without the slash "…/api" + "chat.postMessage"
    # would lose the "api" segment.
    base_url = values["api_base_url"].rstrip("/") + "/"
    return {**values, "admins": tuple(values["admins"]), "api_base_url": base_url}


def _parse_account(name: str, table: Any, base_dir: Path) -> Account:
    key = f"accounts.{name}"
    if not name or not set(name) <= ACCOUNT_NAME_CHARS:
        raise ConfigError("account names use only a-z, 0-9, '-' and '_'", key=key)
    if not isinstance(table, dict):
        raise ConfigError("must be a table", key=key)
    core = {k: v for k, v in table.items() if not isinstance(v, dict)}
    plugin_tables = {k: v for k, v in table.items() if isinstance(v, dict) and k != STAGES_TABLE}
    values = validate_options(ACCOUNT_OPTIONS, core, key=key, base_dir=base_dir)
    if not 0 < values["mass_close_threshold"] <= 1:
        raise ConfigError("must be more than 0 and at most 1 (a fraction of the open jobs)",
                          key=f"{key}.mass_close_threshold")  # fmt: skip
    if values["max_age_days"] is not None and values["max_age_days"] < 1:
        raise ConfigError("must be a whole number of days, at least 1", key=f"{key}.max_age_days")
    stage_map = _parse_stage_map(table.get(STAGES_TABLE, {}), f"{key}.{STAGES_TABLE}")
    digest_at = DIGEST_AT.fullmatch(values["digest_at"])
    if digest_at is None:
        raise ConfigError("must be a 24-hour time as HH:MM, like 09:00", key=f"{key}.digest_at")
    _check_zone(values["digest_timezone"], f"{key}.digest_timezone")
    plugin_tables.setdefault(values["adapter"], {})
    return Account(
        name=name,
        adapter=values["adapter"],
        company=values["company"],
        company_url=values["company_url"],
        enabled=values["enabled"],
        feed_policy=values["feed_policy"],
        feed_token=values["feed_token"],
        sync_interval_minutes=values["sync_interval_minutes"],
        apply_key=values["apply_key"],
        mass_close_threshold=values["mass_close_threshold"],
        max_age_days=values["max_age_days"],
        digest=values["digest"],
        digest_at=time(int(digest_at[1]), int(digest_at[2])),
        digest_timezone=values["digest_timezone"],
        digest_weekday=values["digest_weekday"],
        stage_map=stage_map,
        plugin_options=plugin_tables,
    )


def _check_zone(name: str, key: str) -> None:
    """A time zone the hub can compute wall-clock times in (checked now, not when the digest is due)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"no such time zone {name[:60]!r}: an IANA name, like Europe/Berlin or America/New_York", key=key
        ) from None


def _parse_stage_map(table: Any, key: str) -> dict[str, str | None]:
    if not isinstance(table, dict):
        raise ConfigError("must be a table of stage ids", key=key)
    stage_map: dict[str, str | None] = {}
    for stage, event in table.items():
        if event != NO_FUNNEL_EVENT and event not in FUNNEL_EVENTS:
            allowed = ", ".join([*FUNNEL_EVENTS, NO_FUNNEL_EVENT])
            raise ConfigError(f"must be one of {allowed}, not {event!r}", key=f"{key}.{stage}")
        stage_map[stage] = None if event == NO_FUNNEL_EVENT else event
    return stage_map


def _resolve_secrets(value: Any, key: str) -> Any:
    """Replace every ``env:NAME`` string with that variable's value and register it with the redactor."""
    if isinstance(value, dict):
        return {k: _resolve_secrets(v, f"{key}.{k}" if key else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_secrets(v, f"{key}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        variable = value.removeprefix(ENV_PREFIX)
        secret = os.environ.get(variable)
        if not secret:
            raise ConfigError(f"environment variable {variable} is not set", key=key)
        redactor.add([secret])
        return secret
    return value


def bind_plugins(config: HubConfig, plugins: PluginHost) -> HubConfig:
    """Check every account's adapter and plugin tables against the plugins' declared options.

    Returns the config with each table's options validated and defaults filled, and the plugins'
    warnings about them; registers every secret option's value with the log redactor (also those not
    written as ``env:``).
    """
    base_dir = config.path.parent.resolve()
    accounts = {}
    warnings: list[str] = []
    for account in config.accounts.values():
        key = f"accounts.{account.name}"
        try:
            adapter_info = plugins.info(account.adapter)
        except KeyError:
            raise ConfigError(
                f"unknown adapter plugin {account.adapter!r} (installed: {', '.join(plugins.names())})",
                key=f"{key}.adapter",
                file=str(config.path),
            ) from None
        if adapter_info.kind != "ats":
            raise ConfigError(
                f"{account.adapter!r} is a {adapter_info.kind} plugin, not an ATS adapter",
                key=f"{key}.adapter",
                file=str(config.path),
            )
        bound: dict[str, Mapping[str, Any]] = {}
        for plugin_name, table in account.plugin_options.items():
            try:
                info = plugins.info(plugin_name)
            except KeyError:
                raise ConfigError(
                    f"no plugin named {plugin_name!r} is installed",
                    key=f"{key}.{plugin_name}",
                    file=str(config.path),
                ) from None
            try:
                bound[plugin_name] = validate_options(
                    info.options, table, key=f"{key}.{plugin_name}", base_dir=base_dir
                )
                if info.check_options is not None:
                    warnings += [
                        f"{key}.{plugin_name}.{option}: {warning}"
                        for option, warning in info.check_options(bound[plugin_name])
                    ]
            except ConfigError as error:
                error.file = str(config.path)
                if error.key is not None and not error.key.startswith(f"{key}."):
                    error.key = f"{key}.{plugin_name}.{error.key}"  # the plugin named its option
                raise
            for name in info.secret_names():
                value = bound[plugin_name][name]
                # A list option (Lever's webhook_tokens) holds one secret per element.
                values = value if isinstance(value, list) else [value]
                redactor.add(str(v) for v in values if v)
        accounts[account.name] = replace(account, plugin_options=bound)
    if config.admin["api_token"]:
        redactor.add([config.admin["api_token"]])
    for account in accounts.values():
        redactor.add(secret for secret in (account.feed_token, account.apply_key) if secret)
    return replace(config, accounts=accounts, warnings=tuple(warnings))

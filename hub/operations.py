"""Every operation an admin can do, and its name on each surface: the CLI, the admin API and Slack.

One list, so the three cannot drift apart: a test fails when an operation is missing from a surface (or
a surface offers one this list lacks), and ``python -m hub.docs`` writes the README's table from it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Operation:
    """One thing an admin does, as each surface spells it."""

    name: str
    does: str
    #: The CLI's words after ``appcast-hub`` that reach it (``("jobs", "list")``), and its usage.
    cli: tuple[str, ...]
    cli_usage: str
    #: The admin API's ``(method, path)`` routes that do it (the feed is served outside ``/api``).
    api: tuple[tuple[str, str], ...]
    #: The ``/appcast`` command that does it (its key in :data:`hub.slack.commands.USAGE`).
    slack: str


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "status",
        "accounts at a glance: switches, last sync, feed, deliveries, a held close",
        ("status",),
        "status [ACCOUNT]",
        (("GET", "/api/accounts"), ("GET", "/api/accounts/{account}")),
        "status",
    ),
    Operation(
        "jobs list",
        "an account's jobs, newest first, by words, state and switch",
        ("jobs", "list"),
        "jobs [-a ACCOUNT] list [WORDS]",
        (("GET", "/api/accounts/{account}/jobs"),),
        "jobs",
    ),
    Operation(
        "jobs enable",
        "put jobs in the Appcast feed (audited)",
        ("jobs", "enable"),
        "jobs [-a ACCOUNT] enable ID…",
        (("POST", "/api/accounts/{account}/jobs/enable"),),
        "enable job",
    ),
    Operation(
        "jobs disable",
        "take jobs out of the Appcast feed (audited)",
        ("jobs", "disable"),
        "jobs [-a ACCOUNT] disable ID…",
        (("POST", "/api/accounts/{account}/jobs/disable"),),
        "disable job",
    ),
    Operation(
        "jobs bid",
        "set a job's bid (its <cpc> in the feed: refused where the account has no appcast table), or back to "
        "the account's default (audited)",
        ("jobs", "bid"),
        "jobs [-a ACCOUNT] bid ID AMOUNT|default",
        (("PUT", "/api/accounts/{account}/jobs/{job}/bid"),),
        "bid job",
    ),
    Operation(
        "integration on",
        "switch an account's Appcast integration on (audited)",
        ("integration",),
        "integration ACCOUNT on",
        (("POST", "/api/accounts/{account}/integration"),),
        "enable integration",
    ),
    Operation(
        "integration off",
        "switch it off: empty feed, no events sent (audited)",
        ("integration",),
        "integration ACCOUNT off",
        (("POST", "/api/accounts/{account}/integration"),),
        "disable integration",
    ),
    Operation(
        "stages list",
        "the ATS's stages and the funnel events they map to",
        ("stages",),
        "stages ACCOUNT",
        (("GET", "/api/accounts/{account}/stages"),),
        "stages",
    ),
    Operation(
        "stages map",
        "map a stage to a funnel event, or to none (audited)",
        ("stages", "map"),
        "stages ACCOUNT map STAGE EVENT",
        (("PUT", "/api/accounts/{account}/stages/{stage_id}"),),
        "map stage",
    ),
    Operation(
        "sync",
        "fetch an account's jobs from the ATS now",
        ("sync",),
        "sync [ACCOUNT] [--full]",
        (("POST", "/api/accounts/{account}/sync"),),
        "sync",
    ),
    Operation(
        "reconcile",
        "ask the ATS now for hires and moves its webhooks missed",
        ("reconcile",),
        "reconcile [ACCOUNT]",
        (("POST", "/api/accounts/{account}/reconcile"),),
        "reconcile",
    ),
    Operation(
        "deliveries list",
        "events sent to Appcast, by state",
        ("deliveries", "list"),
        "deliveries list [--state STATE]",
        (("GET", "/api/deliveries"),),
        "deliveries",
    ),
    Operation(
        "deliveries retry",
        "send dead deliveries again (one, or every dead one)",
        ("deliveries", "retry"),
        "deliveries retry ID…|dead",
        (("POST", "/api/deliveries/{delivery}/retry"),),
        "retry",
    ),
    Operation(
        "stats",
        "pixel views, applies, conversion and hires, with the top jobs",
        ("stats",),
        "stats ACCOUNT [--job ID] [--since DAY] [--until DAY]",
        (("GET", "/api/accounts/{account}/stats"),),
        "stats",
    ),
    Operation(
        "feed",
        "the account's feed, exactly as Appcast reads it",
        ("feed",),
        "feed ACCOUNT [-o FILE]",
        (("GET", "/feeds/{account}.xml"),),
        "feed",
    ),
    Operation(
        "feed lint",
        "the feed's health: jobs platforms would demote or refuse, rule by rule",
        ("feed",),
        "feed lint ACCOUNT",
        (("GET", "/api/accounts/{account}/feed/health"),),
        "lint",
    ),
    Operation(
        "incidents",
        "what is wrong now (or every incident, newest first): a failing sync, dead deliveries, a held close…",
        ("incidents",),
        "incidents [-a ACCOUNT] [--all]",
        (("GET", "/api/incidents"),),
        "incidents",
    ),
    Operation(
        "audit",
        "the newest changes and who made them",
        ("audit",),
        "audit [-n N]",
        (("GET", "/api/audit"),),
        "audit",
    ),
    Operation(
        "held",
        "a mass close a sync held back",
        ("held",),
        "held ACCOUNT",
        (("GET", "/api/accounts/{account}/held"),),
        "held",
    ),
    Operation(
        "held confirm / keep",
        "close the held jobs, or keep them open (audited)",
        ("held",),
        "held ACCOUNT confirm|keep",
        (("POST", "/api/accounts/{account}/held/confirm"), ("POST", "/api/accounts/{account}/held/keep")),
        "held",
    ),
)

#: What a surface offers that is not an admin's operation on accounts: running and checking the hub.
SURFACE_ONLY = {
    "cli": {("serve",), ("check-config",), ("migrate",), ("plugins",)},
    "api": {("GET", "/api/openapi.json")},
    "slack": {"help"},
}

"""Stage mapping: which Appcast funnel event an ATS event means for an account.

``application_created`` always means ``applied`` and ``hired`` means ``hired``; a stage change means what
the account's mapping says for the stage it moved to — a run-time mapping (Slack, CLI, admin API) first,
then ``[accounts.NAME.stages]`` in the config, then what the ATS's own classification of the stage
suggests (:attr:`~hub.normalised.Stage.suggested_funnel_event`) — and nothing when none of them says.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, TypedDict, cast

import aiohttp

from hub import models
from hub.accounts import LiveAccount
from hub.errors import AdapterUnavailable
from hub.normalised import FUNNEL_EVENTS, Event, FunnelEvent, Stage
from hub.plugins import PluginHost

#: Where a stage's mapping comes from: set at run time (Slack, CLI, admin API), the config, the ATS's own
#: classification of the stage, or nowhere.
Origin = Literal["runtime", "config", "ats", "unmapped"]
UNMAPPED: Origin = "unmapped"
#: The origin of a mapping that is the ATS's own classification of the stage.
SUGGESTED: Origin = "ats"


def config_mapping(account: LiveAccount, workflow: str, stage_id: str) -> tuple[bool, str | None]:
    """``(found, funnel_event)`` from the config's stage table (``workflow:stage`` before ``stage``)."""
    stage_map = account.config.stage_map
    for key in (f"{workflow}:{stage_id}" if workflow else None, stage_id):
        if key is not None and key in stage_map:
            return True, stage_map[key]
    return False, None


async def funnel_event_for(account: LiveAccount, event: Event) -> str | None:
    """The funnel event ``event`` maps to, or None (unmapped, or deliberately nothing)."""
    if event.kind == "application_created":
        return "applied"
    if event.kind == "hired":
        return "hired"
    if event.kind != "stage_changed" or not event.to_stage_id:
        return None
    row = await models.StageMapping.get_or_none(
        account_id=account.row.id, workflow=event.workflow, stage_id=event.to_stage_id
    )
    if row is not None:
        return row.funnel_event
    found, funnel = config_mapping(account, event.workflow, event.to_stage_id)
    return funnel if found else event.suggested_funnel_event


async def map_stage(
    account: LiveAccount,
    stage_id: str,
    funnel_event: str | None,
    *,
    workflow: str = "",
    stage_name: str | None = None,
    actor: str,
    source: str,
) -> str | None:
    """Map a stage (``funnel_event`` None: to nothing, on purpose); audited. Returns the previous value."""
    if funnel_event is not None and funnel_event not in FUNNEL_EVENTS:
        raise ValueError(f"funnel event must be one of {', '.join(FUNNEL_EVENTS)} or none")
    row = await models.StageMapping.get_or_none(
        account_id=account.row.id, workflow=workflow, stage_id=stage_id
    )
    before = row.funnel_event if row is not None else config_mapping(account, workflow, stage_id)[1]
    if row is None:
        await models.StageMapping.create(
            account_id=account.row.id, workflow=workflow, stage_id=stage_id, stage_name=stage_name,
            funnel_event=funnel_event,
        )  # fmt: skip
    else:
        row.funnel_event = funnel_event
        row.stage_name = stage_name or row.stage_name
        await row.save(update_fields=["funnel_event", "stage_name", "updated_at"])
    await models.AuditEntry.create(
        actor=actor, source=source, action="stage.map", account_name=account.name,
        target=f"{workflow}:{stage_id}" if workflow else stage_id,
        before={"funnel_event": before}, after={"funnel_event": funnel_event},
    )  # fmt: skip
    return before


class StageViewJson(TypedDict):
    """A stage and the funnel event it maps to (null: none), with where that mapping comes from."""

    id: str
    name: str
    workflow: str
    funnel_event: FunnelEvent | None
    origin: Origin
    unmapped_events: int


class StagesReportJson(TypedDict):
    """An account's stages; ``empty_reason`` says why there are none, ``ats_error`` why the ATS gave none."""

    stages: list[StageViewJson]
    ats_error: str | None
    empty_reason: str | None


@dataclass(slots=True)
class StageView:
    """One stage as an admin sees it: what it maps to, and where that comes from."""

    id: str
    name: str
    workflow: str
    funnel_event: str | None
    origin: Origin
    #: Stage changes into this stage stored while it was unmapped.
    unmapped_events: int = 0


@dataclass(slots=True)
class StagesReport:
    """An account's stages as every surface shows them (CLI, admin API, Slack)."""

    stages: list[StageView]
    #: Can the account's adapter list its ATS's stages at all?
    listable: bool
    #: Why the ATS did not list them this time (its outage, said plainly), else None.
    ats_error: str | None

    @property
    def empty_reason(self) -> str | None:
        """Why there is nothing to show, for an empty list; None when there are stages."""
        if self.stages:
            return None
        if self.ats_error:
            return f"the ATS did not list its stages ({self.ats_error}); none is mapped or seen in events"
        if not self.listable:
            return "this account's adapter cannot list its ATS's stages; none is mapped or seen in events"
        return "the ATS lists no stages; none is mapped or seen in events"

    def as_json(self) -> StagesReportJson:
        """The answer of the admin API and of ``stages --json``."""
        return {
            "stages": [cast(StageViewJson, dataclasses.asdict(view)) for view in self.stages],
            "ats_error": self.ats_error,
            "empty_reason": self.empty_reason,
        }


async def account_stages(
    account: LiveAccount, plugins: PluginHost, http: aiohttp.ClientSession
) -> StagesReport:
    """The ATS's stages (when its adapter lists them) with every mapping and every stage seen in events."""
    adapter = account.config.adapter
    listable = plugins.implements(adapter, "appcast_hub_list_stages")
    stages: list[Stage] = []
    ats_error = None
    if listable:
        try:
            stages = list(await plugins.call(adapter, "appcast_hub_list_stages", account.config, http=http))
        except AdapterUnavailable as error:
            ats_error = str(error)
    return StagesReport(await stage_views(account, stages), listable, ats_error)


async def stage_views(account: LiveAccount, stages: list[Stage]) -> list[StageView]:
    """The ATS's stages with their mapping, plus stages mapped (at run time or in the config) or seen in
    events that the ATS's list lacks: a mapping is always shown, even where the ATS lists no stages."""
    rows = {
        (row.workflow, row.stage_id): row
        for row in await models.StageMapping.filter(account_id=account.row.id)
    }
    seen: dict[tuple[str, str], int] = {}
    for workflow, stage_id in await models.Event.filter(
        account_id=account.row.id, kind="stage_changed", funnel_event__isnull=True
    ).values_list("workflow", "to_stage_id"):
        if stage_id:
            seen[(workflow, stage_id)] = seen.get((workflow, stage_id), 0) + 1
    known = {(s.workflow, s.id): s.name for s in stages}
    suggested = {(s.workflow, s.id): s.suggested_funnel_event for s in stages if s.suggested_funnel_event}
    configured = [_config_key(key) for key in account.config.stage_map]
    for key in [*rows, *configured, *seen]:
        known.setdefault(key, rows[key].stage_name if key in rows and rows[key].stage_name else key[1])
    views = []
    for (workflow, stage_id), name in known.items():
        row = rows.get((workflow, stage_id))
        if row is not None:
            funnel, origin = row.funnel_event, "runtime"
        else:
            found, funnel = config_mapping(account, workflow, stage_id)
            origin = "config" if found else UNMAPPED
            if not found and (workflow, stage_id) in suggested:
                funnel, origin = suggested[(workflow, stage_id)], SUGGESTED
        views.append(StageView(stage_id, name, workflow, funnel, origin, seen.get((workflow, stage_id), 0)))
    return views


def _config_key(key: str) -> tuple[str, str]:
    """``(workflow, stage_id)`` of a key of the config's stage table (``workflow:stage`` or ``stage``)."""
    workflow, _, stage_id = key.rpartition(":")
    return workflow, stage_id

"""Hook implementations of the ``file`` adapter (its entry point)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from hub.sdk import (
    Account,
    AdapterUnavailable,
    ConfigError,
    JobPage,
    Option,
    PluginInfo,
    WebhookRejected,
    WebhookRequest,
    hookimpl,
)
from plugins.file.client import JobsFileError, read_jobs_file
from plugins.file.const import DEFAULT_PAGE_SIZE
from plugins.file.mapping import EntryError, job_from_entry


@hookimpl
def appcast_hub_plugin_info() -> PluginInfo:
    return PluginInfo(
        kind="ats",
        description="Jobs from a local JSON file (the embedded default; see plugins/file/README.md)",
        options=(
            Option("path", "the jobs file, relative to the config file", type=Path, required=True),
            Option("page_size", "jobs per page handed to the hub", type=int, default=DEFAULT_PAGE_SIZE),
        ),
        notes=("full sync only", "no webhooks, no stages"),
        check_options=_check_options,
    )


def _check_options(options: Mapping[str, Any]) -> list[tuple[str, str]]:
    # Said by check-config and at start-up, not by the first sync: a copied config in a container
    # often names a path that exists only in the checkout it came from.
    path: Path = options["path"]
    if not path.is_file():
        raise ConfigError(f"no such file: {path}", key="path")
    return []


@hookimpl
async def appcast_hub_fetch_jobs(account: Account, options: Mapping[str, Any]) -> AsyncIterator[JobPage]:
    # The file is the whole ATS: every sync is a full snapshot, re-read so edits show up.
    try:
        entries = await asyncio.to_thread(read_jobs_file, options["path"])
    except JobsFileError as error:
        raise AdapterUnavailable(str(error)) from None
    size = max(1, options["page_size"])
    for start in range(0, len(entries), size):
        page = []
        for number, entry in enumerate(entries[start : start + size], start=start):
            try:
                page.append(job_from_entry(entry))
            except EntryError as error:
                # Skipping a bad entry would close the job it used to be:
                # fail the sync and keep the last good data instead.
                raise AdapterUnavailable(f"{options['path']}: jobs[{number}]: {error}") from None
        yield JobPage(page, snapshot=True)


@hookimpl
def appcast_hub_verify_webhook(request: WebhookRequest) -> None:
    raise WebhookRejected("the file adapter receives no webhooks")

"""Every admin operation on every surface: the CLI, the admin API and Slack offer the same ones.

The surfaces are read from the code that serves them (the CLI's parser, the hub's routes, the Slack
command table), so an operation added to one and forgotten on another fails here, and so does a surface
offering something :data:`hub.operations.OPERATIONS` does not list.
"""

from __future__ import annotations

import argparse

from hub.cli import build_parser
from hub.operations import OPERATIONS, SURFACE_ONLY
from hub.slack.commands import USAGE
from hub.views import api, apply, feeds, health, metrics, pixels, webhooks


def _commands(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """The CLI's commands as their words: a command with actions counts as itself and each action."""
    found = {words} if words else set()
    # argparse exposes its sub-commands only through these private names.
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found |= _commands(child, (*words, name))
    return found


def _admin_routes() -> set[tuple[str, str]]:
    """Every route the hub serves, but those for Appcast and the ATSs (webhooks, pixels, Apply)."""
    served = {
        (route.method, route.path)
        for module in (health, metrics, feeds, webhooks, pixels, apply, api)
        for route in module.routes
        if route.method != "HEAD"
    }
    return {(method, path) for method, path in served if path.startswith(("/api/", "/feeds/"))}


def test_every_operation_is_on_every_surface() -> None:
    commands, routes = _commands(build_parser()), _admin_routes()
    for operation in OPERATIONS:
        assert operation.cli in commands, f"{operation.name}: no CLI command {' '.join(operation.cli)}"
        for route in operation.api:
            assert route in routes, f"{operation.name}: no admin API route {route}"
        assert operation.slack in USAGE, f"{operation.name}: no /appcast {operation.slack}"


def test_no_surface_offers_an_operation_the_list_lacks() -> None:
    listed_cli = {operation.cli for operation in OPERATIONS}
    # A command with actions is listed through them (``jobs`` through ``jobs list``…).
    listed_cli |= {words[:1] for words in listed_cli}
    assert _commands(build_parser()) - listed_cli - SURFACE_ONLY["cli"] == set()
    listed_api = {route for operation in OPERATIONS for route in operation.api}
    assert _admin_routes() - listed_api - SURFACE_ONLY["api"] == set()
    assert set(USAGE) - {operation.slack for operation in OPERATIONS} - SURFACE_ONLY["slack"] == set()


def test_names_are_unique() -> None:
    names = [operation.name for operation in OPERATIONS]
    assert len(names) == len(set(names))

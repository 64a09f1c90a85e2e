"""The plugin manager: discovery by entry point, broken plugins reported (never fatal), the listing."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from hub import hookimpl, hookspecs
from hub.options import PluginInfo
from hub.plugins import PluginHost, hook_names, load_plugins
from tests.conftest import demo_config, free_port, hub_command, hub_process, write_config


def fake_distribution(folder: Path, name: str, module_source: str) -> dict[str, str]:
    """Install (on PYTHONPATH only) a distribution registering ``name`` under ``appcast_hub``."""
    module = f"hub_test_plugin_{name}"
    (folder / f"{module}.py").write_text(module_source, encoding="utf-8")
    dist_info = folder / f"hub_test_{name}-1.2.3.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: hub-test-{name}\nVersion: 1.2.3\n")
    (dist_info / "entry_points.txt").write_text(f"[appcast_hub]\n{name} = {module}\n")
    return {"PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])}


def test_every_hook_is_documented_with_its_arguments() -> None:
    assert hook_names(), "hookspecs declares hooks"
    for name in hook_names():
        spec = getattr(hookspecs, name)
        doc = inspect.getdoc(spec)
        assert doc, f"{name} has no docstring"
        assert len(doc.splitlines()[0]) > 20, f"{name}'s first line says too little"


def test_builtin_plugins_arrive_through_entry_points() -> None:
    plugins = load_plugins()
    assert "file" in plugins.names()
    record = next(r for r in plugins.records() if r.name == "file")
    assert record.version
    assert "appcast_hub_fetch_jobs" in record.hooks
    assert plugins.broken == []


def test_a_plugin_with_an_unknown_hook_is_reported_not_registered() -> None:
    host = PluginHost()

    @hookimpl
    def appcast_hub_plugin_info() -> PluginInfo:
        return PluginInfo(kind="ats", description="typo plugin")

    @hookimpl
    def appcast_hub_fetch_job() -> None:  # misspelt: fetch_jobs
        return None

    plugin = SimpleNamespace(
        appcast_hub_plugin_info=appcast_hub_plugin_info, appcast_hub_fetch_job=appcast_hub_fetch_job
    )
    assert host.register("typo", plugin) is False
    assert host.names() == []
    assert host.broken[0].name == "typo"
    assert "appcast_hub_fetch_job" in host.broken[0].error


def test_a_hook_without_its_marker_is_reported_not_ignored() -> None:
    host = PluginHost()

    class Plugin:
        @hookimpl
        def appcast_hub_plugin_info(self) -> PluginInfo:
            return PluginInfo(kind="ats", description="forgetful plugin")

        def appcast_hub_fetch_jobs(self) -> None:  # @hookimpl forgotten
            return None

    assert host.register("forgetful", Plugin()) is False
    assert host.names() == []
    assert host.broken[0].error == (
        "defines appcast_hub_fetch_jobs without @hookimpl, so the hub would never call it"
    )


def test_a_plugin_whose_info_fails_is_reported() -> None:
    host = PluginHost()

    class Plugin:
        @hookimpl
        def appcast_hub_plugin_info(self) -> PluginInfo:
            raise RuntimeError("boom")

    assert host.register("bad", Plugin()) is False
    assert host.broken[0].error == "appcast_hub_plugin_info failed: RuntimeError: boom"


def test_disabled_plugins_are_not_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPCAST_HUB_DISABLE_PLUGINS", "file")
    plugins = load_plugins(["lever", "not-installed"])
    assert {"file", "lever"}.isdisjoint(plugins.names())
    assert plugins.disabled == {"file": "APPCAST_HUB_DISABLE_PLUGINS", "lever": "[plugins] disabled"}


def test_plugins_command_shows_the_disabled_ones(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[plugins]\ndisabled = ["lever"]\n')
    result = subprocess.run(
        hub_command("plugins", "-c", str(config)), capture_output=True, text=True, timeout=60,
        env={**os.environ, "APPCAST_HUB_DISABLE_PLUGINS": "pinpoint"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "lever disabled (by [plugins] disabled)" in result.stdout.splitlines()
    assert "pinpoint disabled (by APPCAST_HUB_DISABLE_PLUGINS)" in result.stdout.splitlines()
    assert not re.search(r"^(lever|pinpoint) \S+ \(ats\)", result.stdout, flags=re.MULTILINE)


def test_plugins_command_lists_plugins_hooks_and_broken_ones(tmp_path: Path) -> None:
    env = fake_distribution(tmp_path, "exploding", "raise ImportError('no module named workday_sdk')\n")
    result = subprocess.run(
        hub_command("plugins"),  # no config here: every installed plugin is listed
        capture_output=True, text=True, timeout=60, env={**os.environ, **env}, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "file 0.1.0 (ats)" in result.stdout
    for adapter in ("ashby", "greenhouse", "lever", "pinpoint", "smartrecruiters", "workable"):
        assert re.search(rf"^{adapter} \S+ \(ats\) ", result.stdout, flags=re.MULTILINE), f"{adapter} listed"
    assert "hooks: fetch_jobs, plugin_info, verify_webhook" in result.stdout
    assert "exploding BROKEN: cannot be imported: ImportError: no module named workday_sdk" in result.stdout


def test_a_broken_plugin_does_not_stop_the_hub(tmp_path: Path) -> None:
    env = fake_distribution(tmp_path, "exploding", "raise ImportError('no module named workday_sdk')\n")
    port = free_port()
    config = write_config(tmp_path, demo_config(f"sqlite://{tmp_path / 'hub.sqlite3'}", port))
    with hub_process(config, port, env=env) as hub:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            assert answer.status == 200
        output = hub.stop()
    assert "plugin exploding not loaded: cannot be imported" in output

"""``hub.sdk`` is the one public surface plugins import: complete, light, and the only one they use; and
its helpers every adapter shares."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import hub.sdk
from tests.conftest import REPO

PLUGIN_SOURCES = sorted(
    [*(REPO / "plugins").rglob("*.py"), *(REPO / "examples").rglob("*.py")], key=lambda path: str(path)
)


def _hub_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "hub":
            modules = [f"hub.{alias.name}" for alias in node.names]  # ``from hub import sdk``, as llm's
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        found += [module for module in modules if module == "hub" or module.startswith("hub.")]
    return found


def test_plugins_import_nothing_of_the_hub_but_the_sdk() -> None:
    """Built-in plugins, the template and the outside example: an adapter never reaches into the hub."""
    assert len(PLUGIN_SOURCES) > 20
    offenders = {
        str(path.relative_to(REPO)): modules
        for path in PLUGIN_SOURCES
        if (modules := [m for m in _hub_imports(path) if m != "hub.sdk"])
    }
    assert offenders == {}


def test_everything_the_sdk_lists_is_there() -> None:
    for name in hub.sdk.__all__:
        assert getattr(hub.sdk, name) is not None, name


def test_importing_the_sdk_loads_no_test_tools() -> None:
    """The kit and the test peers come with pytest: a running hub must not load them."""
    code = (
        "import sys, hub.sdk, hub.app, plugins.lever.plugin, plugins.pinpoint.plugin\n"
        "print('pytest' in sys.modules, 'hub.testing' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert result.stdout.split() == ["False", "False"]


def test_the_guide_documents_every_name_of_the_sdk() -> None:
    guide = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    # Named as the SDK's (``sdk.X``, in the reference or the text) or as a shape, value set or error.
    undocumented = [name for name in hub.sdk.__all__ if not re.search(rf"\bsdk\.{name}\b|`{name}`", guide)]
    assert undocumented == []


def test_the_sdk_serves_exactly_what_the_kit_exports() -> None:
    import hub.testing

    assert sorted(hub.sdk._TESTING) == sorted(hub.testing.__all__)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("gb", "GB"), (" US ", "US"), ("USA", "US"), ("deu", "DE"), ("Germany", "DE"),
        ("United States of America", "US"), ("United Kingdom", "GB"), ("UK", "GB"), ("England", "GB"),
        ("EL", "GR"), ("The Netherlands", "NL"), ("Korea, Republic of", "KR"),
        # What is no country stays out of the feed: no guess, no fuzzy match.
        ("XX", None), ("Atlantis", None), ("", None), (None, None), (7, None), ("Remote", None),
    ],
)  # fmt: skip
def test_country_codes_from_codes_and_names(given: object, expected: str | None) -> None:
    assert hub.sdk.country_code(given) == expected

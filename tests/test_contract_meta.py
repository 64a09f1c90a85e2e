"""Tests that keep the plugin contract honest: every hook has a test and an entry in the guide.

In the manner of datasette's meta-tests. A new hook in ``hub/hookspecs.py`` fails here until some test
calls or implements it and ``python -m hub.docs`` has written it into ``docs/plugins.md``; a changed
signature or docstring fails until the guide is regenerated.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from hub import docs
from hub.plugins import ENTRY_POINT_GROUP, hook_names, load_plugins
from tests.conftest import REPO

TESTS = REPO / "tests"
#: Test code the suite runs besides tests/: the contract kit's tests run in every adapter's test class.
KIT = sorted((REPO / "hub" / "testing").glob("*.py"))
TEMPLATE = "plugins._template"


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string nodes that are docstrings: a hook named in prose is not a test of it."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _names_in_code(path: Path) -> Iterator[str]:
    """Every name the code of ``path`` uses: called, implemented (``def``), looked up, passed as a string."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            yield node.attr
        elif isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.value


@cache
def hooks_used_by_tests() -> dict[str, list[str]]:
    """Hook name → the test files whose code calls, implements or names it."""
    used: dict[str, list[str]] = {name: [] for name in hook_names()}
    for path in sorted([*TESTS.rglob("*.py"), *KIT]):
        if path == Path(__file__):
            continue  # this file names every hook without testing any
        for name in set(_names_in_code(path)) & used.keys():
            used[name].append(str(path.relative_to(REPO)))
    return used


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_has_a_test(hook: str) -> None:
    assert hooks_used_by_tests()[hook], f"no test calls, implements or names {hook}"


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_has_one_entry_in_the_guide(hook: str) -> None:
    guide = docs.GUIDE.read_text(encoding="utf-8")
    assert guide.count(f"\n#### `{hook}`\n") == 1, (
        f"docs/plugins.md has no entry for {hook}: python -m hub.docs"
    )
    assert docs.signature(hook) in guide


def test_the_guide_is_generated_from_the_code() -> None:
    guide = docs.GUIDE.read_text(encoding="utf-8")
    assert docs.regenerate(guide) == guide, "docs/plugins.md is out of date: run python -m hub.docs"


def test_the_readmes_adapter_table_is_generated_from_the_adapters() -> None:
    readme = docs.README.read_text(encoding="utf-8")
    assert docs.regenerate(readme, docs.DOCUMENTS["README.md"][1]) == readme, (
        "README.md is out of date: run python -m hub.docs"
    )
    rows = [line for line in docs.render_adapters().splitlines() if line.startswith("| [`")]
    listed = {row.split("`")[1]: row for row in rows}
    assert set(listed) >= {"lever", "pinpoint", "greenhouse", "workable", "smartrecruiters", "ashby"}
    assert "| yes | yes | yes | yes | yes |" in listed["lever"], "every connection point, from its hooks"
    assert listed["file"].startswith("| [`file`](plugins/file/README.md) | yes | — | — | — | — | `path` |")


def test_docs_check_fails_on_a_stale_guide_and_rewrite_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "plugins.md"
    stale.write_text(
        docs.GUIDE.read_text(encoding="utf-8").replace("#### `appcast_hub_deliver`", "#### gone")
    )
    assert docs.main(["--check", str(stale)]) == 1
    assert "is out of date: run python -m hub.docs" in capsys.readouterr().err
    assert docs.main([str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == docs.GUIDE.read_text(encoding="utf-8")
    assert docs.main(["--check", str(stale)]) == 0


def test_a_guide_without_markers_is_an_error(tmp_path: Path) -> None:
    bare = tmp_path / "plugins.md"
    bare.write_text("# A guide\n")
    with pytest.raises(ValueError, match="lacks the markers of section 'sdk'"):
        docs.main([str(bare)])


def test_the_template_is_never_loaded() -> None:
    targets = [entry_point.value for entry_point in entry_points(group=ENTRY_POINT_GROUP)]
    assert targets, "the built-in plugins are registered"
    assert not [target for target in targets if target.startswith(TEMPLATE)]
    assert "myats" not in load_plugins().names()
    importing = [
        str(path.relative_to(REPO))
        for path in [*(REPO / "hub").rglob("*.py"), *(REPO / "plugins").rglob("*.py")]
        if TEMPLATE in path.read_text(encoding="utf-8")
        and not path.is_relative_to(REPO / "plugins" / "_template")
    ]
    assert importing == []

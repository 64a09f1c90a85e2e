"""The plugin guide's "Start from the template" and "Run your adapter inside the hub", run as written.

The shell blocks of those two sections of ``docs/plugins.md`` run in one bash session, in a temporary
folder beside a link to this checkout, exactly as an author pastes them, with two substitutions, each
asserted to find its line: the virtual environment is this test run's own (the package installed with
``pip --target`` beside it rather than ``pip install -e`` into it, so the test leaves the environment as
it found it), and the ports are free ones instead of 9000, 9001 and 8080. The renamed copy must then pass
its own suite, list itself without a word of the template, run inside a hub, serve a feed and deliver a
signed hire to a fake Appcast. The sizes the guide quotes for the template and the outside example are
counted here too, and held to the aim of at most 200 lines of code.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

from hub.testing import free_port
from tests.conftest import REPO

GUIDE = REPO / "docs" / "plugins.md"
SECTIONS = ("## 2. Start from the template", "## 3. Run your adapter inside the hub")
INSTALL = """python3 -m venv .venv && .venv/bin/pip install -e "$HUB" -e '.[test]'"""
PORTS = "FAKE_PORT=9000 APPCAST_PORT=9001 HUB_PORT=8080"
#: What the guide's commands take from the hub's checkout.
COPIED = ("plugins/_template", "tests/plugins/test_template.py", "tests/peers/myats.py")


def guide_script() -> str:
    """The ``sh`` blocks of the two sections, in order."""
    text = GUIDE.read_text(encoding="utf-8")
    blocks = []
    for heading in SECTIONS:
        start = text.index(heading)
        section = text[start : text.index("\n## ", start + 1)]
        blocks += re.findall(r"^```sh\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)
    return "\n".join(blocks)


def _this_environment(site: Path) -> str:
    """Shell lines standing in for the guide's venv: wrappers of this run's tools, the package beside."""
    bin_dir = Path(sys.executable).parent
    wrappers = "".join(
        f"printf '#!/bin/sh\\nexec {bin_dir / tool} \"$@\"\\n' > .venv/bin/{tool}\n"
        f"chmod +x .venv/bin/{tool}\n"
        for tool in ("python", "appcast-hub", "pytest")
    )
    install = f"{bin_dir / 'python'} -m pip install --quiet --no-deps --no-build-isolation --target {site} ."
    return f"mkdir -p .venv/bin\n{wrappers}{install}\nexport PYTHONPATH={site}"


def test_the_guide_makes_a_working_adapter_from_the_template(tmp_path: Path) -> None:
    script = guide_script()
    assert script.count(INSTALL) == 1, "the guide's install line changed: update this test"
    assert script.count(PORTS) == 1, "the guide's port line changed: update this test"
    ports = f"FAKE_PORT={free_port()} APPCAST_PORT={free_port()} HUB_PORT={free_port()}"
    script = script.replace(INSTALL, _this_environment(tmp_path / "site")).replace(PORTS, ports)
    # "Starting in a checkout of appcast-hub": what the guide copies from one (a link would not do:
    # ``mkdir ..`` resolves the link, and would write beside this checkout).
    for part in COPIED:
        copy = tmp_path / "appcast-hub" / part
        copy.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / part).is_dir():
            shutil.copytree(REPO / part, copy, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(REPO / part, copy)
    (tmp_path / "guide.sh").write_text(f"set -euo pipefail\n{script}\n", encoding="utf-8")
    # The child suites' options are theirs, not this run's (CI points --junitxml at its report).
    env = {name: value for name, value in os.environ.items() if name not in ("PYTEST_ADDOPTS", "PYTHONPATH")}
    log = tmp_path / "guide.log"
    with log.open("w") as out:
        shell = subprocess.Popen(
            ["bash", str(tmp_path / "guide.sh")], cwd=tmp_path / "appcast-hub", env=env,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            shell.wait(timeout=240)
        finally:
            # The script's trap stops what it started; this makes sure of it, whatever happened.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(shell.pid, signal.SIGKILL)
    output = log.read_text(errors="replace")
    assert shell.returncode == 0, output[-4000:]

    package = tmp_path / "appcast-hub-acmeats"
    assert "acmeats 0.1.0 (ats) AcmeATS: jobs, stages, signed webhooks, hires and Appcast Apply" in output
    assert "23 passed" in output, "the copy's own suite, the contract kit included"
    assert "contract kit: checks not run" not in output
    assert "acmeats: base_url=https://api.acmeats.example, api_key=***, page_size=100" in output
    assert "k-1234567" not in output, "check-config showed the secret"
    assert "demo: full sync saw 8 jobs: 8 new, 0 changed, 0 closed" in output
    assert "<referencenumber>J-1</referencenumber>" in output
    assert '{"status": "stored"}' in output
    assert re.search(r"demo\s+hired\s+delivered attempts:1", output), output[-2000:]
    leftovers = {
        str(path.relative_to(package)): line
        for path in package.rglob("*.py")
        if ".venv" not in path.parts
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.search(r"template|myats", line, flags=re.IGNORECASE)
    }
    assert leftovers == {}, "the rename left the template's names behind"


def code_lines(package: Path) -> int:
    """Lines of a package's modules that hold code: not blank, not only a comment, not a docstring."""
    total = 0
    for path in package.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        docstrings = set()
        for node in ast.walk(ast.parse(source)):
            body = getattr(node, "body", None)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and body:
                first = body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
        skipped = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
        lines = set()
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type not in skipped and token.type != tokenize.ENDMARKER:
                lines.update(range(token.start[0], token.end[0] + 1))
        total += len(lines - docstrings)
    return total


def test_the_guide_quotes_the_adapters_true_size() -> None:
    """The aim of a complete adapter in at most 200 lines with the SDK, and the figures the guide gives."""
    guide = GUIDE.read_text(encoding="utf-8")
    for package, row in (
        (REPO / "plugins" / "_template", "| `plugins/_template` (MyATS) |"),
        (
            REPO / "examples" / "recruitee-adapter" / "appcast_hub_recruitee",
            "| `examples/recruitee-adapter` (outside package) |",
        ),
    ):
        lines = code_lines(package)
        assert lines <= 200, f"{package.name}: {lines} lines of code"
        quoted = next(line for line in guide.splitlines() if line.startswith(row))
        assert quoted.split("|")[3].strip().startswith(str(lines)), (
            f"the guide says {quoted!r}: it is {lines}"
        )


@pytest.mark.parametrize("adapter", ["greenhouse", "workable", "smartrecruiters", "ashby"])
def test_the_guide_quotes_the_built_in_adapters_true_size(adapter: str) -> None:
    """Issue 14's aim for a built-in on the SDK: under 400 lines of plugin code, as the guide records."""
    lines = code_lines(REPO / "plugins" / adapter)
    assert lines < 400, f"{adapter}: {lines} lines of code"
    quoted = next(
        line for line in GUIDE.read_text(encoding="utf-8").splitlines() if f"`plugins/{adapter}` |" in line
    )
    assert quoted.split("|")[3].strip() == str(lines), f"the guide says {quoted!r}: it is {lines}"

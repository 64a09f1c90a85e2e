"""The generated parts of the documents: the plugin author's guide and the README's list of adapters.

The guide's (``docs/plugins.md``) reference sections are rendered from the code they describe: the hooks
from :mod:`hub.hookspecs` (signatures, docstrings, targeted or broadcast), the shapes from
:mod:`hub.normalised` and :mod:`hub.options` (fields, types, defaults, ``#:`` comments), the errors from
:mod:`hub.errors`. The README's table of supported ATSs is rendered from the built-in adapters as the
plugin manager loads them (the hooks each implements, its required options). Each lives between a pair of
markers in the Markdown file and is replaced whole::

    python -m hub.docs            # rewrite the generated sections of docs/plugins.md and README.md in place
    python -m hub.docs --check    # exit 1 if they differ from the code (the test-suite checks this too)

so the guide cannot drift from the contract: change a hook, regenerate, and the diff shows in review.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import sys
import typing
from collections.abc import Callable
from pathlib import Path

from hub import errors, hookspecs, normalised, options
from hub.plugins import hook_names, load_plugins

#: The guide and the README, in a checkout of the hub (the only place they exist: they are not installed).
GUIDE = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
README = GUIDE.parent.parent / "README.md"
#: The line length of generated signatures before they are split one parameter a line.
SIGNATURE_WIDTH = 100

_GROUP = re.compile(r"^# --- (?P<title>.+?) -+$")
_HOOK = re.compile(r"^def (?P<name>appcast_hub_\w+)\(")
_FIELD = re.compile(r"^\s+(?P<name>\w+)\s*:")
# Sphinx roles in docstrings: :class:`~hub.errors.X` reads as `X`, :func:`hmac.compare_digest` as written.
_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr):`(?P<tilde>~?)(?P<target>[^`]+)`")


def begin_marker(name: str) -> str:
    """The line that opens generated section ``name``."""
    return f"<!-- BEGIN GENERATED {name}: python -m hub.docs -->"


def end_marker(name: str) -> str:
    """The line that closes generated section ``name``."""
    return f"<!-- END GENERATED {name} -->"


def markdown(docstring: str) -> str:
    """A reST-flavoured docstring as Markdown: ````x```` and Sphinx roles become code spans."""

    def role(match: re.Match[str]) -> str:
        target = match["target"]
        return f"`{target.rsplit('.', 1)[-1] if match['tilde'] else target}`"

    return _ROLE.sub(role, docstring).replace("``", "`")


def _cell(text: str) -> str:
    # A pipe ends a Markdown table cell, even inside a code span, unless escaped.
    return text.replace("|", "\\|")


# --- hooks ------------------------------------------------------------------------------------------


def hook_groups() -> list[tuple[str, list[str]]]:
    """The hooks under the ``# --- title ---`` comments that group them in :mod:`hub.hookspecs`."""
    groups: list[tuple[str, list[str]]] = []
    for line in inspect.getsource(hookspecs).splitlines():
        if match := _GROUP.match(line):
            groups.append((markdown(match["title"]), []))
        elif (match := _HOOK.match(line)) and groups:
            groups[-1][1].append(match["name"])
    grouped = [name for _, names in groups for name in names]
    if sorted(grouped) != sorted(hook_names()):
        raise RuntimeError("every hook in hub/hookspecs.py must sit under a '# --- group ---' comment")
    return groups


def signature(name: str) -> str:
    """The hook's signature as a plugin author writes it, annotations exactly as in the contract."""
    spec = inspect.signature(getattr(hookspecs, name))
    params = [f"{p.name}: {p.annotation}" for p in spec.parameters.values()]
    one_line = f"def {name}({', '.join(params)}) -> {spec.return_annotation}"
    if len(one_line) <= SIGNATURE_WIDTH:
        return one_line
    listed = "".join(f"    {param},\n" for param in params)
    return f"def {name}(\n{listed}) -> {spec.return_annotation}"


def is_targeted(name: str) -> bool:
    """Targeted hooks (``firstresult``) are called on one plugin; the others on every active plugin."""
    return bool(getattr(hookspecs, name).appcast_hub_spec["firstresult"])


def render_hooks() -> str:
    """A summary table, then one entry per hook: how it is called, its signature, its docstring."""
    lines = ["| hook | called | returns |", "|---|---|---|"]
    for name in hook_names():
        returns = inspect.signature(getattr(hookspecs, name)).return_annotation
        called = "targeted" if is_targeted(name) else "broadcast"
        lines.append(f"| [`{name}`](#{name}) | {called} | `{_cell(returns)}` |")
    for title, names in hook_groups():
        lines += ["", f"### Hooks: {title}"]
        for name in names:
            called = (
                "**Targeted**: called on one plugin, its answer is the result."
                if is_targeted(name)
                else "**Broadcast**: called on every plugin active on the account; answers are gathered."
            )
            doc = markdown(inspect.getdoc(getattr(hookspecs, name)) or "")
            lines += ["", f"#### `{name}`", "", called, "", "```python", signature(name), "```", "", doc]
    return "\n".join(lines)


# --- shapes -----------------------------------------------------------------------------------------

#: The shapes a plugin author meets, in the order the guide introduces them.
SHAPES: tuple[type, ...] = (
    normalised.Job,
    normalised.JobPage,
    normalised.Event,
    normalised.Stage,
    normalised.WebhookRequest,
    normalised.Application,
    normalised.ApplicationResult,
    normalised.Delivery,
    normalised.Notice,
    normalised.NoticeAction,
    normalised.Digest,
    normalised.DigestFigure,
    normalised.DigestJob,
    normalised.Account,
    options.PluginInfo,
    options.Option,
)
#: The closed sets of values some fields take (``Literal`` aliases), and the SDK's tuple of each.
VALUE_SETS: tuple[tuple[str, object, str | None], ...] = (
    ("Workplace", normalised.Workplace, "WORKPLACES"),
    ("EventKind", normalised.EventKind, "EVENT_KINDS"),
    ("FunnelEvent", normalised.FunnelEvent, "FUNNEL_EVENTS"),
    ("NoticeKind", normalised.NoticeKind, None),
    ("DigestEvery", normalised.DigestEvery, None),
    ("DigestFigureName", normalised.DigestFigureName, None),
    ("DigestSchedule", normalised.DigestSchedule, None),
    ("Weekday", normalised.Weekday, None),
    ("PluginKind", options.PluginKind, None),
)


def field_comments(cls: type) -> dict[str, str]:
    """The ``#:`` comments written above a dataclass's fields, by field name."""
    comments: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped.removeprefix("#:").strip())
            continue
        if (match := _FIELD.match(line)) and pending:
            comments[match["name"]] = " ".join(pending)
        pending = []
    return comments


def _default(field: dataclasses.Field[object]) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return "*required*"
    return f"`{value.__name__ if isinstance(value, type) else repr(value)}`"


def render_shapes() -> str:
    """One table per shape (field, type, default, the field's ``#:`` comment) and the value sets."""
    lines: list[str] = []
    for cls in SHAPES:
        doc = markdown(inspect.getdoc(cls) or "")
        comments = field_comments(cls)
        lines += [f"### `sdk.{cls.__name__}`", "", doc, ""]
        lines += ["| field | type | default | notes |", "|---|---|---|---|"]
        for field in dataclasses.fields(cls):  # type: ignore[arg-type]
            notes = _cell(markdown(comments.get(field.name, "")))
            lines.append(f"| `{field.name}` | `{_cell(str(field.type))}` | {_default(field)} | {notes} |")
        lines.append("")
    lines += ["### Value sets", ""]
    for name, alias, values in VALUE_SETS:
        listed = ", ".join(f"`{value}`" for value in typing.get_args(alias))
        lines.append(f"- `{name}`{f' (all of them: `sdk.{values}`)' if values else ''}: {listed}")
    return "\n".join(lines)


# --- errors -----------------------------------------------------------------------------------------


def render_errors() -> str:
    """Every exception in :mod:`hub.errors`, with what it is for and what the hub does with it."""
    lines = ["| exception | is a | meaning |", "|---|---|---|"]
    for cls in vars(errors).values():  # in the order the module defines them
        if isinstance(cls, type) and issubclass(cls, errors.HubError) and cls is not errors.HubError:
            doc = " ".join(markdown(inspect.getdoc(cls) or "").split())
            lines.append(f"| `{cls.__name__}` | `{cls.__mro__[1].__name__}` | {_cell(doc)} |")
    return "\n".join(lines)


# --- the SDK's helpers --------------------------------------------------------------------------------

#: Where each group of :mod:`hub.sdk`'s helpers is defined, and how the guide titles it. The shapes,
#: the errors and the option types have their own sections.
SDK_GROUPS = (
    ("Mapping an ATS's JSON", ("hub.mapping", "hub.normalised")),
    ("HTTP to peers", ("hub.http",)),
    ("Webhook signatures", ("hub.signatures",)),
    (
        "Tests: the contract kit and the test peers",
        ("hub.testing", "hub.testing.peers", "hub.testing.appcast"),
    ),
)


def _python_signature(name: str, function: Callable[..., object], *, method: bool) -> str:
    """``name(params) -> returns`` as the source writes it (annotations are strings here), split one
    parameter a line when long."""
    spec = inspect.signature(function)
    params, star = [], False
    for param in list(spec.parameters.values())[1 if method else 0 :]:
        if param.kind is param.KEYWORD_ONLY and not star:
            params.append("*")
            star = True
        text = param.name if param.annotation is param.empty else f"{param.name}: {param.annotation}"
        # A dataclass field made by a factory shows as "…": its sentinel's repr would mean nothing.
        default = "…" if repr(param.default) == "<factory>" else repr(param.default)
        params.append(text if param.default is param.empty else f"{text} = {default}")
    returns = "" if method or spec.return_annotation is spec.empty else f" -> {spec.return_annotation}"
    one_line = f"{name}({', '.join(params)}){returns}"
    if len(one_line) <= SIGNATURE_WIDTH:
        return one_line
    listed = "".join(f"    {param},\n" for param in params)
    return f"{name}(\n{listed}){returns}"


def _sdk_entry(name: str, value: typing.Any) -> list[str]:
    doc = markdown(inspect.getdoc(value) or "").split("\n\n")[0]
    if inspect.isclass(value):
        code = (
            _python_signature(f"sdk.{name}", value.__init__, method=True)
            if "__init__" in vars(value)
            else None
        )
    else:
        code = _python_signature(f"sdk.{name}", value, method=False)
    return [f"#### `sdk.{name}`", "", *(["```python", code, "```", ""] if code else []), doc]


def render_sdk() -> str:
    """The helpers of :mod:`hub.sdk` by what they are for: each one's signature and first paragraph."""
    from hub import sdk

    lines: list[str] = []
    for title, modules in SDK_GROUPS:
        lines += [f"### {title}"]
        for name in sdk.__all__:
            value = getattr(sdk, name)
            module = getattr(value, "__module__", None)
            # The shapes and the errors have sections of their own.
            is_shape = inspect.isclass(value) and (module == "hub.normalised" or issubclass(value, Exception))
            if module in modules and callable(value) and not is_shape:
                lines += ["", *_sdk_entry(name, value)]
        lines.append("")
    return "\n".join(lines).rstrip()


#: What each column of the README's adapter table says, by the hook that provides it.
ADAPTER_COLUMNS = {
    "jobs feed": "appcast_hub_fetch_jobs",
    "signed webhooks": "appcast_hub_parse_webhook",
    "stages": "appcast_hub_list_stages",
    "hire reconciliation": "appcast_hub_fetch_recent_events",
    "Appcast Apply": "appcast_hub_create_application",
}


def render_adapters() -> str:
    """The README's table of the built-in ATS adapters: what each supports, what it needs to run."""
    host = load_plugins()
    if host.broken:
        # A built-in that fails to import would silently leave the table: refuse to write a wrong one.
        raise ValueError("plugins failed to load: " + "; ".join(f"{p.name}: {p.error}" for p in host.broken))
    header = ["adapter", *ADAPTER_COLUMNS, "required options"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for record in host.records():
        # Built-ins only: an installed third-party adapter is this machine's, not the hub's.
        if record.info.kind != "ats" or not record.module.startswith("plugins."):
            continue
        folder = "/".join(record.module.split(".")[:2])
        supports = ["yes" if hook in record.hooks else "—" for hook in ADAPTER_COLUMNS.values()]
        required = ", ".join(f"`{option.name}`" for option in record.info.options if option.required)
        cells = [f"[`{record.name}`]({folder}/README.md)", *supports, required or "—"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_operations() -> str:
    """The README's table of what an admin can do, on each surface (:data:`hub.operations.OPERATIONS`)."""
    from hub.operations import OPERATIONS
    from hub.slack.commands import USAGE

    lines = ["| operation | does | CLI (`appcast-hub …`) | admin API | Slack |", "|---|---|---|---|---|"]
    for operation in OPERATIONS:
        api = "<br>".join(f"`{method} {path}`" for method, path in operation.api)
        cells = [f"**{operation.name}**", operation.does, f"`{operation.cli_usage}`", api,
                 f"`/appcast {USAGE[operation.slack][0]}`"]  # fmt: skip
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines)


#: Every generated section of the guide, by marker name.
GUIDE_SECTIONS: dict[str, Callable[[], str]] = {
    "sdk": render_sdk,
    "hooks": render_hooks,
    "shapes": render_shapes,
    "errors": render_errors,
}
#: The generated sections of each document, by the document's file name.
DOCUMENTS: dict[str, tuple[Path, dict[str, Callable[[], str]]]] = {
    GUIDE.name: (GUIDE, GUIDE_SECTIONS),
    README.name: (README, {"adapters": render_adapters, "operations": render_operations}),
}


def regenerate(text: str, sections: dict[str, Callable[[], str]] = GUIDE_SECTIONS) -> str:
    """``text`` (the guide, or the document ``sections`` belong to) with every generated section replaced
    by what the code says now."""
    for name, render in sections.items():
        begin, end = begin_marker(name), end_marker(name)
        start, stop = text.find(begin), text.find(end)
        if start < 0 or stop < start:
            raise ValueError(f"the document lacks the markers of section {name!r}: {begin} ... {end}")
        text = f"{text[: start + len(begin)]}\n\n{render()}\n\n{text[stop:]}"
    return text


def main(argv: list[str] | None = None) -> int:
    """``python -m hub.docs [--check] [PATH ...]``: rewrite the generated sections, or check them."""
    parser = argparse.ArgumentParser(prog="python -m hub.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a document is out of date")
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help=f"documents named {' or '.join(DOCUMENTS)} (default: the hub's own)",
    )
    args = parser.parse_args(argv)
    stale = 0
    for path in args.paths or [path for path, _ in DOCUMENTS.values()]:
        if path.name not in DOCUMENTS:
            parser.error(f"{path}: no generated sections are known for a file of that name")
        current = path.read_text(encoding="utf-8")
        wanted = regenerate(current, DOCUMENTS[path.name][1])
        if wanted == current:
            continue
        if args.check:
            print(f"{path} is out of date: run python -m hub.docs", file=sys.stderr)
            stale = 1
        else:
            path.write_text(wanted, encoding="utf-8")
            print(f"{path}: generated sections rewritten")
    return stale


if __name__ == "__main__":
    sys.exit(main())

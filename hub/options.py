"""How a plugin describes itself and its per-account options, and how the hub validates them.

A plugin returns a :class:`PluginInfo` from ``appcast_hub_plugin_info``; the hub checks each account's
``[accounts.<name>.<plugin>]`` table against it at start-up, so a typo fails loudly before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hub.errors import ConfigError

PluginKind = Literal["ats", "destination"]

_TYPE_NAMES: dict[type, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    Path: "a file path",
    list: "a list",
}


def checked_type(base: type, description: str, check: Callable[[Any], bool]) -> type:
    """An option type whose values pass ``check``: :class:`Option` checks values with ``isinstance``, and
    this type answers it with ``check``; its name, ``description``, reads as the error ("must be an
    http(s) URL"), so a mistyped value fails ``check-config`` instead of silently never working."""
    meta = type("_CheckedMeta", (type,), {"__instancecheck__": lambda cls, value: check(value)})
    return meta(description, (base,), {"__module__": __name__})


#: An option holding an http(s) URL with a host.
HttpUrl = checked_type(
    str,
    "an http(s) URL",
    lambda value: isinstance(value, str) and re.match(r"https?://[^/\s?#]+", value) is not None,
)


@dataclass(slots=True, frozen=True)
class Option:
    """One per-account option of a plugin."""

    name: str
    help: str
    type: type = str
    required: bool = False
    default: Any = None
    #: Secret options are redacted from logs, Slack and ``check-config``; write them ``env:NAME``.
    secret: bool = False
    choices: tuple[Any, ...] | None = None

    def coerce(self, value: Any, *, key: str, base_dir: Path) -> Any:
        """Return ``value`` checked against this option's type and choices, or raise ConfigError.

        ``Path`` options are written as strings and resolved against ``base_dir`` (the config file's
        folder), so a config works whatever directory the hub is started from.
        """
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.type is Path and isinstance(value, str):
            return (base_dir / value).resolve()
        # bool is an int subclass: refuse ``true`` where a number is expected, and 1 for a flag.
        if not isinstance(value, self.type) or (self.type is not bool and isinstance(value, bool)):
            raise ConfigError(f"must be {_TYPE_NAMES.get(self.type, self.type.__name__)}", key=key)
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(repr(c) for c in self.choices)
            raise ConfigError(f"must be one of {allowed}, not {value!r}", key=key)
        return value


@dataclass(slots=True, frozen=True)
class PluginInfo:
    """What a plugin is: shown by ``appcast-hub plugins`` and used to validate account options."""

    kind: PluginKind
    description: str
    options: tuple[Option, ...] = ()
    version: str | None = None
    #: Extra facts for ``appcast-hub plugins`` (e.g. "supports incremental sync").
    notes: tuple[str, ...] = field(default=())
    #: Checks an account's table as a whole, once each option was validated alone (start-up and
    #: ``check-config``): raise :class:`~hub.errors.ConfigError` with ``key`` the option's name for a
    #: combination that cannot work, and return ``(option, warning)`` pairs for one that works with a
    #: risk the admin should know about (each names what is at risk).
    check_options: Callable[[Mapping[str, Any]], Sequence[tuple[str, str]]] | None = None
    #: The one status an adapter's ATS counts as delivered, answered to every webhook the hub accepts,
    #: new or already seen (Workable retries all but 200, SmartRecruiters all but 202); None: 202 for a
    #: new one, 200 for one already seen. The body says which it was either way.
    webhook_ack_status: int | None = None

    def secret_names(self) -> set[str]:
        """Names of the options whose values must never be shown."""
        return {option.name for option in self.options if option.secret}


def validate_options(
    options: Iterable[Option], values: Mapping[str, Any], *, key: str, base_dir: Path
) -> dict[str, Any]:
    """Check a config table against its options: unknown keys, missing required ones, types, choices.

    Returns every option by name, defaults filled in. ``key`` is the table's dotted name, used in errors.
    """
    known = {option.name: option for option in options}
    for name in values:
        if name not in known:
            hint = f" (known: {', '.join(sorted(known))})" if known else ""
            raise ConfigError(f"unknown option{hint}", key=f"{key}.{name}")
    result: dict[str, Any] = {}
    for option in known.values():
        if option.name in values:
            result[option.name] = option.coerce(
                values[option.name], key=f"{key}.{option.name}", base_dir=base_dir
            )
        elif option.required:
            raise ConfigError(f"required option missing ({option.help})", key=f"{key}.{option.name}")
        elif isinstance(option.default, Path):
            result[option.name] = (base_dir / option.default).resolve()  # like a written path
        else:
            result[option.name] = option.default
    return result

"""The plugin manager: finds plugins by entry point, reports broken ones, and calls their hooks.

Every plugin, built-in or third-party, arrives through the ``appcast_hub`` entry-point group. Code in the
hub never calls ``pm.hook.x(...)`` directly: it asks :class:`PluginHost` to call one plugin (targeted
hooks) or every plugin active on an account (broadcast hooks), and awaits the results uniformly.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from hub import PROJECT_NAME, hookspecs
from hub.options import PluginInfo

if TYPE_CHECKING:
    from hub.normalised import Account

_LOGGER = logging.getLogger(__name__)

ENTRY_POINT_GROUP = PROJECT_NAME
#: Comma-separated plugin names not to load, for switching off a broken third-party plugin quickly.
DISABLE_ENV = "APPCAST_HUB_DISABLE_PLUGINS"
HOOK_PREFIX = "appcast_hub_"


async def await_me_maybe(value: Any) -> Any:
    """Resolve a hook result that may be a value, an awaitable, or a callable returning either."""
    if callable(value):
        value = value()
    if inspect.isawaitable(value):
        value = await value
    return value


@dataclass(frozen=True, slots=True)
class PluginRecord:
    """A loaded plugin: where it came from and what it implements."""

    name: str
    module: str
    version: str | None
    info: PluginInfo
    hooks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BrokenPlugin:
    """A plugin that could not be loaded, and why; reported, never fatal."""

    name: str
    error: str


class PluginHost:
    """Typed access to the loaded plugins."""

    def __init__(self) -> None:
        self._pm = pluggy.PluginManager(PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._records: dict[str, PluginRecord] = {}
        self.broken: list[BrokenPlugin] = []
        #: Installed plugins not loaded because they are switched off: name → where (config or environment).
        self.disabled: dict[str, str] = {}

    # --- loading ------------------------------------------------------------------------------------

    def load_entry_points(self, disabled: Iterable[str] = ()) -> None:
        """Load every plugin registered under the entry-point group, skipping ``disabled`` names (and those
        of :data:`DISABLE_ENV`), which :attr:`disabled` then lists with who switched them off."""
        switched_off = {name: "[plugins] disabled" for name in disabled}
        for name in os.environ.get(DISABLE_ENV, "").split(","):
            if name.strip():
                switched_off[name.strip()] = DISABLE_ENV
        for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
            if entry_point.name in self._records:
                continue
            if entry_point.name in switched_off:
                self.disabled[entry_point.name] = switched_off[entry_point.name]
                continue
            version = entry_point.dist.version if entry_point.dist else None
            try:
                module = entry_point.load()
            except Exception as error:
                self._report_broken(entry_point.name, f"cannot be imported: {type(error).__name__}: {error}")
                continue
            self.register(entry_point.name, module, version=version)

    def register(self, name: str, plugin: ModuleType | object, *, version: str | None = None) -> bool:
        """Register one plugin object under ``name``; returns False (and reports it) if it is broken."""
        try:
            self._pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as error:
            self._report_broken(name, str(error))
            return False
        callers = self._pm.get_hookcallers(plugin) or []
        unknown = [caller.name for caller in callers if caller.spec is None]
        # pluggy skips functions without the marker: a forgotten @hookimpl would be silently never called.
        unmarked = sorted(
            attribute for attribute in dir(plugin)
            if attribute.startswith(HOOK_PREFIX) and callable(getattr(plugin, attribute, None))
            and attribute not in {caller.name for caller in callers}
        )  # fmt: skip
        problem = None
        if unknown:
            problem = f"implements unknown hooks: {', '.join(sorted(unknown))}"
        elif unmarked:
            problem = f"defines {', '.join(unmarked)} without @hookimpl, so the hub would never call it"
        elif not self._impl(name, "appcast_hub_plugin_info"):
            problem = "does not implement appcast_hub_plugin_info"
        if problem is None:
            try:
                info = self._impl(name, "appcast_hub_plugin_info").function()
                if not isinstance(info, PluginInfo):
                    problem = f"appcast_hub_plugin_info returned {type(info).__name__}, not PluginInfo"
            except Exception as error:
                problem = f"appcast_hub_plugin_info failed: {type(error).__name__}: {error}"
        if problem is not None:
            self._pm.unregister(plugin)
            self._report_broken(name, problem)
            return False
        hooks = tuple(sorted(c.name for c in self._pm.get_hookcallers(plugin) or []))
        module = getattr(plugin, "__name__", type(plugin).__qualname__)
        version = version or getattr(plugin, "__version__", None) or info.version
        self._records[name] = PluginRecord(name, module, version, info, hooks)
        return True

    def unregister(self, name: str) -> None:
        """Remove a plugin (tests use this to undo a registration)."""
        self._pm.unregister(name=name)
        self._records.pop(name, None)

    def _report_broken(self, name: str, error: str) -> None:
        _LOGGER.error("plugin %s not loaded: %s", name, error)
        self.broken.append(BrokenPlugin(name, error))

    # --- what is loaded -----------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Names of the loaded plugins, sorted."""
        return sorted(self._records)

    def records(self) -> list[PluginRecord]:
        """The loaded plugins, sorted by name."""
        return [self._records[name] for name in self.names()]

    def info(self, name: str) -> PluginInfo:
        """The plugin's self-description; KeyError if no such plugin is loaded."""
        return self._records[name].info

    def implements(self, name: str, hook: str) -> bool:
        """Does plugin ``name`` implement ``hook`` (full name, ``appcast_hub_…``)?"""
        return self._impl(name, hook) is not None

    # --- calling ------------------------------------------------------------------------------------

    def _impl(self, name: str, hook: str) -> Any:
        for impl in getattr(self._pm.hook, hook).get_hookimpls():
            if impl.plugin_name == name:
                return impl
        return None

    @staticmethod
    def _invoke(impl: Any, kwargs: Mapping[str, Any]) -> Any:
        # pluggy lets an implementation accept any subset of the spec's arguments.
        return impl.function(**{arg: kwargs[arg] for arg in impl.argnames})

    async def call(self, plugin: str, hook: str, account: Account | None = None, **kwargs: Any) -> Any:
        """Call targeted ``hook`` on ``plugin``, passing its options for ``account``; await the result.

        Raises LookupError when the plugin does not implement the hook.
        """
        impl = self._impl(plugin, hook)
        if impl is None:
            raise LookupError(f"plugin {plugin!r} does not implement {hook}")
        if account is not None:
            kwargs |= {"account": account, "options": account.plugin_options.get(plugin, {})}
        return await await_me_maybe(self._invoke(impl, kwargs))

    def call_iter(self, plugin: str, hook: str, account: Account, **kwargs: Any) -> Any:
        """Call a targeted hook that returns an async iterator (``fetch_jobs``), without awaiting it."""
        impl = self._impl(plugin, hook)
        if impl is None:
            raise LookupError(f"plugin {plugin!r} does not implement {hook}")
        kwargs |= {"account": account, "options": account.plugin_options.get(plugin, {})}
        return self._invoke(impl, kwargs)

    async def broadcast(self, hook: str, account: Account, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call ``hook`` on every plugin active on ``account``; ``(plugin, result)`` for non-None results."""
        return [
            (name, result)
            for name, impl in self._active_impls(hook, account)
            if (result := await await_me_maybe(self._invoke(impl, self._with_options(kwargs, name, account))))
            is not None
        ]

    def broadcast_sync(self, hook: str, account: Account, **kwargs: Any) -> list[Any]:
        """Like :meth:`broadcast` for hot, synchronous hooks (``feed_job_elements``): results only."""
        results = []
        for name, impl in self._active_impls(hook, account):
            result = self._invoke(impl, self._with_options(kwargs, name, account))
            if result is not None:
                results.append(result)
        return results

    def active(self, hook: str, account: Account) -> list[PluginRecord]:
        """The plugins active on ``account`` that implement ``hook``, in the order they are called."""
        return [self._records[name] for name, _ in self._active_impls(hook, account)]

    def has_active(self, hook: str, account: Account) -> bool:
        """Does any plugin active on ``account`` implement ``hook``? (Lets hot paths skip the call.)"""
        return bool(self._active_impls(hook, account))

    def _active_impls(self, hook: str, account: Account) -> list[tuple[str, Any]]:
        # A plugin is active on an account when the account has a table for it (the adapter always has).
        impls = getattr(self._pm.hook, hook).get_hookimpls()
        return [(impl.plugin_name, impl) for impl in impls if impl.plugin_name in account.plugin_options]

    @staticmethod
    def _with_options(kwargs: Mapping[str, Any], name: str, account: Account) -> dict[str, Any]:
        return {**kwargs, "account": account, "options": account.plugin_options[name]}


def hook_names() -> list[str]:
    """Every hook the contract declares, in the order of :mod:`hub.hookspecs`."""
    return [name for name in vars(hookspecs) if name.startswith(HOOK_PREFIX)]


def load_plugins(disabled: Iterable[str] = ()) -> PluginHost:
    """A :class:`PluginHost` with every installed plugin loaded."""
    host = PluginHost()
    host.load_entry_points(disabled)
    return host

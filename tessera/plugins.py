"""One registry per extension axis; every plugin is registered under a permanent name.

Names are part of persisted data (a hash set records the format it was read with, a file records the
source that yielded it), so a registered name is never renamed or reused.

Third-party packages extend the registries through the entry-point group ``tessera.plugins`` (the
model is datasette's plugins): the first time any registry is read, every entry point of the group is
loaded once. An entry point names a module, whose import registers into the registries with the same
``REGISTRY.register(name)(obj)`` calls the built-ins use, or a callable taking no arguments that does
so. A plugin that fails to load, or takes a name that is already registered, is logged as a warning and
recorded in :func:`plugin_loads` with the reason (``tessera plugins`` lists it); what it registered is
removed again, and the command goes on with the built-ins. docs/plugins.md has a worked example.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

#: The entry-point group third-party packages declare their plugins under.
ENTRY_POINT_GROUP = "tessera.plugins"
#: Set to 1 to load no third-party plugin (e.g. to run a command while an installed one is broken).
NO_PLUGINS_ENV = "TESSERA_NO_PLUGINS"
#: What the built-in registrations are attributed to.
BUILTIN = "tessera"


@dataclass
class PluginLoad:
    """One entry point of the ``tessera.plugins`` group and what came of loading it."""

    name: str
    value: str
    distribution: str
    version: str
    error: str | None = None
    registered: list[tuple[str, str]] = field(default_factory=list)  # (axis, name)

    @property
    def ok(self) -> bool:
        return self.error is None


_REGISTRIES: list[Registry[Any]] = []
_loads: list[PluginLoad] = []
_state = {"done": False, "loading": False}
_current: list[PluginLoad] = []  # the plugin being loaded (a stack of one)
_load_lock = threading.RLock()


def _is_builtin(module: str) -> bool:
    return module == BUILTIN or module.startswith(BUILTIN + ".")


class Registry(Generic[T]):
    def __init__(self, axis: str) -> None:
        self.axis = axis
        self._items: dict[str, T] = {}
        self._origin: dict[str, PluginLoad | None] = {}  # None: built in
        # Iterated several times per walked file (parsers, detectors): sorted once per change.
        self._sorted: list[tuple[str, T]] | None = None
        self._names: tuple[str, ...] | None = None
        _REGISTRIES.append(self)

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            # Attributed by the module that registers (the caller), not by the object's class: a plugin
            # may register an instance of a tessera class, and tessera's own modules may be imported
            # for the first time while a plugin loads.
            caller = str(sys._getframe(1).f_globals.get("__name__", ""))
            plugin = None if _is_builtin(caller) or not _current else _current[-1]
            if name in self._items:
                holder = self._origin.get(name)
                if plugin is None and holder is not None:
                    # A built-in imported after a plugin took its name keeps it: the plugin is the one
                    # that fails, never the import of tessera's own module.
                    self._evict(holder, f"{self.axis} {name!r} is a built-in name")
                else:
                    raise ValueError(f"{self.axis} plugin {name!r} is already registered")
            self._items[name] = obj
            self._origin[name] = plugin
            self._sorted = self._names = None
            if plugin is not None:
                plugin.registered.append((self.axis, name))
            return obj

        return deco

    def _evict(self, plugin: PluginLoad, reason: str) -> None:
        _fail(plugin, reason)

    def origin(self, name: str) -> str:
        """The distribution that registered ``name`` (``tessera`` for a built-in)."""
        plugin = self._origin.get(name)
        return BUILTIN if plugin is None else plugin.distribution

    def _unregister(self, name: str) -> None:
        self._items.pop(name, None)
        self._origin.pop(name, None)
        self._sorted = self._names = None

    def get(self, name: str) -> T:
        if not _state["done"]:
            load_plugins()
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise KeyError(f"unknown {self.axis} {name!r} (known: {known})") from None

    def _items_sorted(self) -> list[tuple[str, T]]:
        if not _state["done"]:
            load_plugins()
        if self._sorted is None:
            self._sorted = sorted(self._items.items())
        return self._sorted

    def names(self) -> list[str]:
        return list(self.name_tuple())

    def name_tuple(self) -> tuple[str, ...]:
        """The names in order, as one tuple kept until the registry changes: callers that memoise
        per set of names (the walk's detectors, several times per file) key on it for free."""
        items = self._items_sorted()
        if self._names is None:
            self._names = tuple(name for name, _ in items)
        return self._names

    def __iter__(self) -> Iterator[tuple[str, T]]:
        return iter(self._items_sorted())

    def __contains__(self, name: object) -> bool:
        if not _state["done"]:
            load_plugins()
        return name in self._items


def registries() -> list[Registry[Any]]:
    """Every registry created so far (one per extension axis whose module has been imported)."""
    return list(_REGISTRIES)


def _fail(plugin: PluginLoad, reason: str) -> None:
    """Mark ``plugin`` failed and take back everything it registered."""
    if plugin.error is None:
        plugin.error = reason
        log.warning(
            "plugin %s (%s %s) not loaded: %s",
            plugin.name,
            plugin.distribution,
            plugin.version,
            reason,
            extra={"plugin": plugin.name, "distribution": plugin.distribution},
        )
    for reg in _REGISTRIES:
        for name, holder in list(reg._origin.items()):
            if holder is plugin:
                reg._unregister(name)


def load_plugins() -> list[PluginLoad]:
    """Load the ``tessera.plugins`` entry points, once per process; the outcome of each."""
    if _state["done"]:
        return list(_loads)
    # Another thread waits here until the loading is over; the loading thread itself gets back in
    # (the lock is re-entrant) when a plugin reads a registry while it loads, and must not start again.
    with _load_lock:
        if _state["done"] or _state["loading"]:
            return list(_loads)
        _state["loading"] = True
        try:
            _load_all()
        finally:
            _state["done"], _state["loading"] = True, False
    return list(_loads)


def _load_all() -> None:
    if os.environ.get(NO_PLUGINS_ENV, "") not in ("", "0"):
        log.info("third-party plugins not loaded (%s is set)", NO_PLUGINS_ENV)
        return
    from importlib.metadata import entry_points

    try:
        eps = list(entry_points(group=ENTRY_POINT_GROUP))
    except Exception as exc:  # noqa: BLE001 - a broken installed distribution must not stop tessera
        log.warning("could not list the %s entry points: %s", ENTRY_POINT_GROUP, exc)
        return
    for ep in sorted(eps, key=lambda e: (e.dist.name if e.dist else "", e.name)):
        _load_one(ep)


def _load_one(ep: Any) -> None:
    dist = ep.dist
    plugin = PluginLoad(
        name=ep.name,
        value=ep.value,
        distribution=dist.name if dist is not None else "unknown",
        version=dist.version if dist is not None else "",
    )
    _loads.append(plugin)
    _current.append(plugin)
    try:
        obj = ep.load()
        if callable(obj) and not isinstance(obj, type):
            obj()
    except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, never fatal
        _fail(plugin, f"{type(exc).__name__}: {exc}")
    finally:
        _current.pop()
    if plugin.ok:
        log.info(
            "plugin %s (%s %s) loaded: %s",
            plugin.name,
            plugin.distribution,
            plugin.version,
            ", ".join(f"{axis} {name}" for axis, name in plugin.registered) or "nothing registered",
            extra={"plugin": plugin.name, "distribution": plugin.distribution},
        )


def plugin_loads() -> list[PluginLoad]:
    """Every third-party plugin found, loaded or failed (loads them first if no registry was read)."""
    return load_plugins()

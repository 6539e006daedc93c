"""tessera plugins: what each extension axis holds, and which distribution registered it."""

from __future__ import annotations

import importlib
from typing import Any

from tessera.cli.common import console
from tessera.cli.listing import FormatOpt, render

#: The modules whose import registers tessera's own plugins on every axis.
_AXES = (
    "tessera.hashing.algorithms",
    "tessera.hashsets",
    "tessera.evidence",
    "tessera.messaging",
    "tessera.messaging.apps",
    "tessera.ingest.executors",
)


def rows() -> list[dict[str, Any]]:
    """One row per registered name and one per third-party plugin that failed to load."""
    from tessera.plugins import BUILTIN, load_plugins, registries

    for module in _AXES:
        importlib.import_module(module)
    loads = load_plugins()
    versions = {p.distribution: p.version for p in loads}
    out: list[dict[str, Any]] = []
    for reg in registries():
        for name in reg.names():
            dist = reg.origin(name)
            out.append(
                {
                    "axis": reg.axis,
                    "name": name,
                    "distribution": dist,
                    "version": versions.get(dist, "") if dist != BUILTIN else _own_version(),
                    "status": "loaded",
                    "error": None,
                }
            )
    for p in loads:
        if not p.ok:
            out.append(
                {
                    "axis": "",
                    "name": p.name,
                    "distribution": p.distribution,
                    "version": p.version,
                    "status": "failed",
                    "error": p.error,
                }
            )
    return out


def _own_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tessera")
    except PackageNotFoundError:
        return ""


def command(fmt: FormatOpt = "table") -> None:
    """List the plugins on every axis (hash-set formats, evidence sources, messaging parsers...) with
    the distribution that registered each; third-party plugins that failed to load are listed with why."""
    listing = rows()
    render(listing, fmt, ("axis", "name", "distribution", "status", "error"), title="plugins")
    failed = [r for r in listing if r["status"] == "failed"]
    if failed and fmt == "table":
        console.print(f"{len(failed)} plugin(s) failed to load; they were left out", highlight=False)

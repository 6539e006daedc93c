"""tessera cameras: producer leads (cameras across devices, capture places, pictures taken on a phone)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tessera.cli.common import CaseOpt, fail, load_case
from tessera.cli.listing import FormatOpt, render
from tessera.network.cameras import producer_leads

#: What each --show lists and the columns table/CSV give it (JSON always carries every field).
COLUMNS = {
    "cameras": ["id", "make", "model", "serial", "serial_kind", "lenses", "pictures", "devices", "locators"],
    "places": [
        "sha256",
        "lat",
        "lon",
        "alt",
        "gps_time",
        "exif_time",
        "offset_time_original",
        "camera_id",
        "locators",
    ],
    "taken-here": ["device", "flag", "device_path", "sha256", "make", "model", "exif_time", "basis", "posts"],
    "unlinked": ["sha256", "make", "model", "reason"],
}


def _locators(files: list[dict[str, Any]]) -> list[str]:
    return [f"{f['device']}:{f['locator']}" for f in files]


def command(
    fmt: FormatOpt = "table",
    show: Annotated[
        str, typer.Option("--show", help="cameras | places | taken-here | unlinked (make/model, no serial)")
    ] = "cameras",
    case: CaseOpt = None,
) -> None:
    """Cameras (make, model, body or lens serial) linking pictures across devices, with the files behind
    each; or capture places from EXIF GPS, pictures taken on a seized phone's own camera (and later
    posted), or pictures never linked because they carry no serial."""
    if show not in COLUMNS:
        fail(f"--show must be one of {', '.join(COLUMNS)}")
    handle = load_case(case)
    with handle.session() as s:
        leads = producer_leads(s)
    rows: list[dict[str, Any]]
    if show == "cameras":
        rows = [{**c, "locators": _locators(c["files"])} for c in leads.cameras]
    elif show == "places":
        rows = [{**p, "locators": _locators(p["files"])} for p in leads.places]
    elif show == "taken-here":
        rows = [
            {**t, "posts": [f"{m['device']}:{m['chat']} {m['time']} ({m['link']})" for m in t["messages"]]}
            for t in leads.taken_here
        ]
    else:
        rows = leads.unlinked
    render(rows, fmt, COLUMNS[show], {"cameras": "Cameras", "places": "Capture places"}.get(show, show))

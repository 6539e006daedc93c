"""Writing a report as JSON, CSV or one self-contained HTML file.

Each writer streams: a device's hits and problems (:class:`tessera.report.stream.Rows`) are read in
batches while the file is written, so the output is written as it is produced and memory stays flat
whatever the number of hits. The JSON is byte for byte what ``json.dumps(report, indent=2)`` of the
same report held in memory gives.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from tessera.report.stream import Rows

CSV_FIELDS = [
    "section",
    "device",
    "metric",
    "value",
    "locator",
    "sha256",
    "md5",
    "sha1",
    "algorithm",
    "distance",
    "hashset",
    "matched_value",
    "category",
    "error",
]


INDENT = "  "


def write_json(report: dict[str, Any], path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for chunk in _json(report, 0):
            fh.write(chunk)
        fh.write("\n")


def _streamed(value: Any) -> bool:
    """Does ``value`` hold rows to stream? Only such containers are written piece by piece."""
    if isinstance(value, Rows):
        return True
    if isinstance(value, dict):
        return any(_streamed(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_streamed(v) for v in value)
    return False


def _json(value: Any, level: int) -> Iterator[str]:
    """``json.dumps(value, indent=2, ensure_ascii=False)`` as chunks, nested at ``level``."""
    if not _streamed(value):
        # A string never holds a raw newline in JSON: indenting every line nests the whole value.
        yield json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + INDENT * level)
        return
    inner = "\n" + INDENT * (level + 1)
    if isinstance(value, dict):
        # Only report-built dicts hold rows; their keys are strings.
        opened = False
        for k, v in value.items():
            yield ("," if opened else "{") + inner + json.dumps(k, ensure_ascii=False) + ": "
            yield from _json(v, level + 1)
            opened = True
        yield "\n" + INDENT * level + "}" if opened else "{}"
        return
    opened = False
    for item in value:
        yield ("," if opened else "[") + inner
        yield from _json(item, level + 1)
        opened = True
    yield "\n" + INDENT * level + "]" if opened else "[]"


def _flat(prefix: str, d: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        if isinstance(v, dict):
            out.extend(_flat(f"{prefix}{k}.", v))
        else:
            out.append((f"{prefix}{k}", v))
    return out


def write_csv(report: dict[str, Any], path: Path) -> None:
    """A long-format CSV: summary rows (metric, value), then hit rows, then problem rows."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for metric, value in _flat("", report["totals"]):
            w.writerow({"section": "summary", "device": "*", "metric": metric, "value": value})
        for dev in report["devices"]:
            for metric, value in _flat("", dev["stats"]):
                w.writerow({"section": "summary", "device": dev["id"], "metric": metric, "value": value})
        for dev in report["devices"]:
            for hit in dev["hits"]:
                w.writerow({"section": "hit", **hit})
        for dev in report["devices"]:
            for p in dev["problems"]:
                w.writerow({"section": "problem", "device": dev["id"], **p})


def write_html(report: dict[str, Any], path: Path) -> None:
    env = Environment(
        loader=PackageLoader("tessera.report", "templates"), autoescape=select_autoescape(["html"])
    )
    with path.open("w", encoding="utf-8") as fh:
        # generate(): the page as it is rendered, each device's hits read while their table is written.
        for chunk in env.get_template("report.html").generate(r=report):
            fh.write(chunk)


WRITERS = {"json": write_json, "csv": write_csv, "html": write_html}

"""Writing a report as JSON, CSV or one self-contained HTML file."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

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


def write_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


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
    path.write_text(env.get_template("report.html").render(r=report), encoding="utf-8")


WRITERS = {"json": write_json, "csv": write_csv, "html": write_html}

"""Rendering a synthetic network's seizures as evidence: one folder per seized device or capture."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tessera.synth.msgstore import write_phone_tree
from tessera.synth.network import Network, Seizure
from tessera.synth.telegram import write_telegram_export
from tessera.synth.wa_export import write_export


@dataclass(frozen=True, slots=True)
class Evidence:
    seizure: Seizure
    path: Path  # what to give `tessera ingest`
    kind: str


def write_seizures(net: Network, root: Path) -> list[Evidence]:
    """Phones as Android extraction folders (msgstore.db current or legacy schema, wa.db, media with a
    fifth deleted), patrol captures as WhatsApp chat-export zips (Android and iOS styles, en/es/pt,
    12- and 24-hour clocks), Telegram phones as Telegram Desktop exports."""
    out = []
    for n, s in enumerate(net.seizures):
        folder = root / s.device
        folder.mkdir(parents=True, exist_ok=True)
        if s.format.startswith("msgstore"):
            write_phone_tree(net, s, folder)
            out.append(Evidence(s, folder, "phone"))
        elif s.format.startswith("wa-export"):
            style = "ios" if s.format.endswith("ios") else "android"
            path = write_export(net, s, folder, style=style, locale=s.locale, clock="12h" if n % 2 else "24h")
            out.append(Evidence(s, path, "capture"))
        elif s.format == "telegram":
            write_telegram_export(net, s, folder)
            out.append(Evidence(s, folder, "phone"))
        else:  # pragma: no cover - every format of tessera.synth.network is handled above
            raise ValueError(s.format)
    return out

"""Assembling the triage report: per device and per case. Hashes, locators and counts; never media."""

from __future__ import annotations

import platform
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import tessera
from tessera.items.report import spread_section
from tessera.messaging.inventory import inventory
from tessera.network import analysis, cameras, persons
from tessera.report.stream import hit_rows, materialise, problem_rows
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.models_video import ImageVerification
from tessera.store.queries import device_ids, device_stats, messaging_sources

REPORT_FORMAT = "tessera-report"
REPORT_VERSION = 1


@contextmanager
def open_report(case: CaseHandle, device: str | None = None) -> Iterator[dict[str, Any]]:
    """The report for writers that stream (``tessera.report.render``): each device's hits and
    problems are read from the open session while they are written, never held whole."""
    with case.session() as s:
        yield build_report(case, device, session=s)


def build_report(
    case: CaseHandle, device: str | None = None, *, session: Session | None = None
) -> dict[str, Any]:
    """The report as a dict; with ``session`` (see :func:`open_report`), hits and problems are
    :class:`tessera.report.stream.Rows` read from it, else lists."""
    with nullcontext(session) if session is not None else case.session() as s:
        ids = [device] if device else device_ids(s)
        devices = []
        for dev_id in ids:
            dev = s.get(m.Device, dev_id)
            if dev is None:
                raise KeyError(f"no device {dev_id!r} in this case")
            runs = s.scalars(
                select(m.IngestRun).where(m.IngestRun.device_id == dev_id).order_by(m.IngestRun.id)
            ).all()
            devices.append(
                {
                    "id": dev.id,
                    "kind": dev.kind,
                    "suspect": dev.suspect,
                    "source_path": dev.source_path,
                    "evidence_hash": dev.evidence_hash,
                    "verifications": [
                        {
                            "locator": v.locator,
                            "algorithm": v.algorithm,
                            "stored": v.stored,
                            "computed": v.computed,
                            "verified": v.verified,
                            "checked_at": v.checked_at.isoformat(timespec="seconds"),
                        }
                        for v in s.scalars(
                            select(ImageVerification)
                            .where(ImageVerification.device_id == dev_id)
                            .order_by(ImageVerification.id)
                        )
                    ],
                    "runs": [
                        {
                            "started": r.started_at.isoformat(timespec="seconds"),
                            "status": r.status,
                            "finished": r.finished_at.isoformat(timespec="seconds")
                            if r.finished_at
                            else None,
                        }
                        for r in runs
                    ],
                    "stats": device_stats(s, dev_id),
                    "hits": hit_rows(s, dev_id),
                    "problems": problem_rows(s, dev_id),
                    # Every messaging source with its reconciliation, and known apps' data not parsed.
                    "messaging_sources": messaging_sources(s, dev_id),
                    # The app inventory: each known messaging app found, parsed or not, once.
                    "apps": inventory(s, dev_id),
                }
            )
        sets = [
            {
                "name": h.name,
                "format": h.format,
                "version": h.version,
                "profile": h.profile,
                "entries": h.entry_count,
                "source_sha256": h.source_sha256,
                "imported_at": h.imported_at.isoformat(timespec="seconds"),
            }
            for h in s.scalars(select(m.HashSet).order_by(m.HashSet.id))
        ]
        report = {
            "format": REPORT_FORMAT,
            "version": REPORT_VERSION,
            "generated_at": m.utcnow().isoformat(timespec="seconds"),
            "tool": {"name": "tessera", "version": tessera.__version__, "python": platform.python_version()},
            "case": {"name": case.name, "agency": case.agency},
            "scope": {"device": device},
            "hashsets": sets,
            "totals": device_stats(s, device),
            "devices": devices,
            "network": network_section(s),
            # Near-duplicate items and how each spread (issue 14, tessera.items).
            "spread": spread_section(s, device),
            # Cameras across devices, capture places, pictures taken on a seized phone (issue 14).
            "producer_leads": cameras.report_section(s, device),
        }
        return report if session is not None else materialise(report)


def network_section(s: Session) -> dict[str, Any] | None:
    """Groups, role indicators, bridges, cross-device accounts and first posts; None for a case with
    no messaging data at all (chats and accounts without messages still make a section)."""
    if all(s.scalar(select(t.id).limit(1)) is None for t in (m.Message, m.Chat, m.Account)):
        return None
    accs = [a.as_dict() for a in analysis.accounts(s)]
    return {
        "groups": analysis.groups(s),
        "accounts_with_roles": [a for a in accs if a["roles"] and a["roles"] != ["consumer"]],
        "accounts": len(accs),
        "bridges": analysis.bridges(s),
        "cross_device_accounts": analysis.cross_device(s, "account"),
        "cross_device_groups": analysis.cross_device(s, "chat"),
        # One person's accounts on several platforms, each link with its evidence (network.persons).
        "persons": persons.persons(s),
        "persons_not_linked": persons.not_linked(s),
        "items": list(analysis.media_spread(s)),
    }

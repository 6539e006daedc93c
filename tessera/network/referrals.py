"""Per-country referral packages: the accounts of one country, their groups, and the hashes and
categories of what they posted. Hashes and metadata only: no file's bytes ever enter a package.

A package is a folder ``OUT/<CC>/`` with ``summary.md`` (for a reader), ``accounts.csv``,
``posts.csv``, ``cases.vics.json`` (VICS 2.0 ``#Cases``) and ``manifest.json`` (format
``tessera-referral`` version 1, with the SHA-256 of every file in the package).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import tessera
from tessera.hashsets.vics_export import context_url, media_object
from tessera.items.posts import known_by_item
from tessera.network.analysis import AccountSummary, accounts, iso, matched_sha256
from tessera.series import series_map, vics_value
from tessera.store import models as m
from tessera.store.models_items import ItemMember

REFERRAL_FORMAT = "tessera-referral"
REFERRAL_VERSION = 1
UNKNOWN = "XX"  # accounts with no country from their number and no suspect jurisdiction


@dataclass
class Package:
    country: str
    path: Path
    accounts: int
    posts: int
    items: int


def _countries(session: Session, summaries: list[AccountSummary]) -> dict[str, list[AccountSummary]]:
    """An account goes to its number's country, and to the jurisdiction of any suspect it is linked to."""
    jurisdiction = {k: v for k, v in session.execute(select(m.Suspect.id, m.Suspect.jurisdiction)).all()}
    out: dict[str, list[AccountSummary]] = defaultdict(list)
    for a in summaries:
        targets: set[str] = {a.country} if a.country else set()
        targets |= {str(jurisdiction[s]) for s in a.suspects if jurisdiction.get(s)}
        for cc in targets or {UNKNOWN}:
            out[cc].append(a)
    return dict(out)


def _posts(session: Session, account_ids: list[int]) -> list[dict[str, Any]]:
    # Issue 14: a copy is known when any copy of its near-duplicate item matched; each post names its item.
    known = known_by_item(session, matched_sha256(session))
    item_of = dict(session.execute(select(ItemMember.sha256, ItemMember.item_id)).all())
    rows = session.execute(
        select(
            m.Account.key,
            m.Chat.title,
            m.Chat.key,
            m.Message.time,
            m.Message.device_id,
            m.Message.locator,
            m.Message.media_sha256,
            m.Message.forwarded,
        )
        .join(m.Account, m.Account.id == m.Message.sender_id)
        .join(m.Chat, m.Chat.id == m.Message.chat_id)
        .where(
            m.Message.sender_id.in_(account_ids),
            m.Message.media_sha256.is_not(None),
            m.Message.kind != "system",
        )
        .order_by(m.Message.time, m.Message.id)
    ).all()
    out = []
    for account, title, chat_key, time, device, locator, sha, forwarded in rows:
        out.append(
            {
                "account": account,
                "group": title or chat_key,
                "time": iso(time),
                "device": device,
                "locator": locator,
                "sha256": sha,
                "forwarded": bool(forwarded),
                "status": "known" if sha in known else "new",
                "item": item_of.get(sha) if sha else None,
            }
        )
    return out


def _item_facts(session: Session, sha: str) -> dict[str, Any]:
    media = session.get(m.Media, sha)
    category = session.scalar(
        select(m.HashEntry.category)
        .join(m.Match, m.Match.entry_id == m.HashEntry.id)
        .where(m.Match.sha256 == sha, m.HashEntry.category.is_not(None))
        .order_by(m.Match.distance)
        .limit(1)
    )
    decision = session.scalar(
        select(m.Decision.category).where(m.Decision.sha256 == sha).order_by(m.Decision.id.desc()).limit(1)
    )
    return {
        "sha256": sha,
        "md5": media.md5 if media else None,
        "sha1": media.sha1 if media else None,
        "category": decision if decision is not None else category,
    }


def _sha_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_referrals(
    session: Session,
    out_dir: Path,
    case_name: str,
    agency: str,
    only: str | None = None,
    by: str = "sha256",
) -> list[Package]:
    """``by``: role indicators of byte-identical copies ("sha256") or of near-duplicate items ("item",
    see :func:`tessera.network.analysis.accounts`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summaries = accounts(session, by)
    named = series_map(session)
    packages = []
    for cc, accs in sorted(_countries(session, summaries).items()):
        if only and cc != only:
            continue
        pkg = out_dir / cc
        pkg.mkdir(exist_ok=True)
        posts = _posts(session, [a.id for a in accs])
        items = {p["sha256"]: _item_facts(session, p["sha256"]) for p in posts}
        for sha, facts in items.items():  # issue 14: the series reviewers named travel with the item
            facts["series"] = vics_value(named.get(sha))
        for p in posts:
            p["category"] = items[p["sha256"]]["category"]
            p["md5"], p["sha1"] = items[p["sha256"]]["md5"], items[p["sha256"]]["sha1"]
        _accounts_csv(pkg / "accounts.csv", accs)
        _posts_csv(pkg / "posts.csv", posts)
        _cases_vics(pkg / "cases.vics.json", f"{case_name} — referral {cc}", list(items.values()))
        _summary(pkg / "summary.md", cc, case_name, agency, accs, posts, items)
        files = sorted(p.name for p in pkg.iterdir() if p.name != "manifest.json")
        manifest = {
            "format": REFERRAL_FORMAT,
            "version": REFERRAL_VERSION,
            "country": cc,
            "case": case_name,
            "agency": agency,
            "generated_at": iso(m.utcnow()),
            "tool": f"tessera {tessera.__version__}",
            "files": {f: _sha_file(pkg / f) for f in files},
            "content": "hashes and metadata only; no media files",
        }
        (pkg / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        packages.append(Package(cc, pkg, len(accs), len(posts), len(items)))
    return packages


def _accounts_csv(path: Path, accs: list[AccountSummary]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "account",
                "platform",
                "phone",
                "country",
                "names",
                "groups",
                "devices",
                "roles",
                "messages",
                "media_posts",
                "suspects",
            ]
        )
        for a in accs:
            w.writerow(
                [
                    a.account,
                    a.platform,
                    a.phone or "",
                    a.country or "",
                    "; ".join(a.names),
                    "; ".join(a.groups),
                    "; ".join(a.devices),
                    "; ".join(a.roles),
                    a.messages,
                    a.media_posts,
                    "; ".join(a.suspects),
                ]
            )


def _posts_csv(path: Path, posts: list[dict[str, Any]]) -> None:
    fields = [
        "account",
        "group",
        "time",
        "device",
        "locator",
        "sha256",
        "md5",
        "sha1",
        "category",
        "status",
        "forwarded",
        "item",
    ]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(posts)


def _cases_vics(path: Path, case_name: str, items: list[dict[str, Any]]) -> None:
    key, url = context_url("2.0")
    media = [
        media_object({k: v for k, v in it.items() if v is not None}, i + 1, "2.0")
        for i, it in enumerate(items)
    ]
    doc = {key: url.replace("#Media", "#Cases"), "value": [{"CaseNumber": case_name, "Media": media}]}
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def _summary(
    path: Path,
    cc: str,
    case_name: str,
    agency: str,
    accs: list[AccountSummary],
    posts: list[dict[str, Any]],
    items: dict[str, dict[str, Any]],
) -> None:
    new = sum(1 for p in posts if p["status"] == "new")
    lines = [
        f"# Referral {cc}: {case_name}",
        "",
        f"From agency {agency}. Hashes and metadata only: this package contains no media files.",
        "",
        f"- accounts: {len(accs)}",
        f"- media posts by these accounts: {len(posts)} ({new} of new material)",
        f"- distinct items: {len(items)}",
        "",
        "## Accounts",
        "",
        "| account | names | groups | devices | roles |",
        "|---|---|---|---|---|",
    ]
    for a in accs:
        lines.append(
            f"| {a.account} | {', '.join(a.names)} | {', '.join(a.groups)} | {', '.join(a.devices)} | "
            f"{', '.join(a.roles) or '-'} |"
        )
    lines += ["", "Roles are indicators drawn from the messages listed in posts.csv, not conclusions.", ""]
    path.write_text("\n".join(lines), encoding="utf-8")

"""CASE/UCO out: the whole case as CASE 1.x JSON-LD (``tessera export case``), streamed.

What is written (docs/case-uco.md has the full mapping): the agency, the tool, the investigation; each
device with what its extraction states and the evidence file's hash; one ``InvestigativeAction`` per
ingest run (the device its object, the files its results) and per messaging source parsed (the source
file its object, the messages, accounts and groups seen its results); every file with its locator,
times and hashes; accounts, groups (``MessageThread``) and messages (metadata only); hash-set matches
and reviewers' decisions as ``Annotation`` nodes, each with the action that made it and a
``ProvenanceRecord``.

Never written: message text, file content, reviewers' notes (SPEC: exports carry hashes and metadata
only). The ``@graph`` is written node by node from keyset-paged queries, so memory does not grow with
the case; lists that do (an action's results, a group's messages) are streamed the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Select, select
from sqlalchemy.orm import aliased

from tessera import __version__
from tessera.report.case_uco_findings import write_findings
from tessera.report.case_uco_nodes import (
    GraphWriter,
    Iris,
    Node,
    Stream,
    account_node,
    application_node,
    device_node,
    evidence_file_node,
    file_node,
    message_node,
    put,
    ref,
    thread_node,
    when,
)
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.models_device import DeviceFact

_BATCH = 2000


@dataclass
class CaseExport:
    """What an export wrote, counted as it was written."""

    nodes: int = 0
    devices: int = 0
    files: int = 0
    accounts: int = 0
    threads: int = 0
    messages: int = 0
    matches: int = 0
    decisions: int = 0
    #: Records that could not be written, and why (none expected; counted so none vanish silently).
    left_out: dict[str, int] = field(default_factory=dict)


def _paged(case: CaseHandle, stmt: Select[*tuple[Any, ...]]) -> Iterator[Any]:
    """Rows of ``stmt`` in pages keyed on its first column (an integer id): bounded memory and no
    server cursor held across the export, on SQLite and PostgreSQL alike."""
    key = stmt.selected_columns[0]
    last: Any = None
    while True:
        q = stmt if last is None else stmt.where(key > last)
        with case.session() as s:
            rows = s.execute(q.order_by(key).limit(_BATCH)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def _case_key(case: CaseHandle) -> tuple[str, str, str]:
    with case.session() as s:
        info = s.scalars(select(m.Case).order_by(m.Case.id).limit(1)).first()
        if info is None:
            return case.name, case.agency, ""
        created = when(info.created_at)
        return info.name, info.agency, created["@value"] if created else ""


class _Export:
    def __init__(self, case: CaseHandle, fh: IO[str], now: datetime) -> None:
        self.case = case
        name, agency, created = _case_key(case)
        self.iris = Iris("\x1f".join((agency, name, created)))
        self.out = GraphWriter(fh)
        self.stats = CaseExport()
        self.name, self.agency, self.now = name, agency, now
        self.tool = self.iris("tool", "tessera", __version__)

    def emit(self, node: Node) -> None:
        self.out.add(node)

    def emit_streaming(self, node: Node) -> None:
        self.out.add_streaming(node)

    def action(self, key: tuple[object, ...], name: str, **props: Any) -> Node:
        node: Node = {"@id": self.iris("action", *key), "@type": "case-investigation:InvestigativeAction"}
        node["uco-core:name"] = name
        node["uco-action:instrument"] = ref(self.tool)
        for k, v in props.items():
            put(node, k, v)
        return node

    # --- the case, the tool, the devices ---------------------------------------------------------

    def header(self) -> None:
        org = self.iris("organization", self.agency)
        self.emit({"@id": org, "@type": "uco-identity:Organization", "uco-core:name": self.agency})
        self.emit(
            {
                "@id": self.tool,
                "@type": "uco-tool:Tool",
                "uco-core:name": "Tessera",
                "uco-tool:version": __version__,
                "uco-tool:toolType": "forensic triage and analysis",
            }
        )
        with self.case.session() as s:
            devices = list(s.scalars(select(m.Device.id).order_by(m.Device.id)))
        investigation = self.iris("investigation")
        self.emit(
            {
                "@id": investigation,
                "@type": "case-investigation:Investigation",
                "uco-core:name": self.name,
                "case-investigation:investigationForm": "case",
                "uco-core:createdBy": ref(org),
                "uco-core:object": [ref(self.iris("device", d)) for d in devices],
            }
        )
        stamp = when(self.now)
        assert stamp is not None
        self.emit(
            self.action(
                ("export", stamp["@value"]),
                "CASE/UCO export",
                **{
                    "uco-action:startTime": stamp,
                    "uco-action:object": [ref(investigation)],
                    "uco-core:description": "hashes and metadata only: no file content, no message text",
                },
            )
        )

    def devices(self) -> None:
        with self.case.session() as s:
            devices = list(s.scalars(select(m.Device).order_by(m.Device.id)))
            facts: dict[str, dict[str, str]] = {}
            for f in s.scalars(select(DeviceFact).order_by(DeviceFact.id)):
                facts.setdefault(f.device_id, {})[f.name] = f.value  # the latest statement wins
            runs = list(s.scalars(select(m.IngestRun).order_by(m.IngestRun.id)))
            unrun = set(s.scalars(select(m.File.device_id).where(m.File.run_id.is_(None)).distinct()))
        evidence: dict[str, str] = {}
        for dev in devices:
            self.emit(device_node(dev, facts.get(dev.id, {}), self.iris))
            self.stats.devices += 1
            ev = evidence_file_node(dev, self.iris)
            if ev is not None:
                self.emit(ev)
                evidence[dev.id] = ev["@id"]
        for run in runs:
            self._run_action(run.device_id, evidence.get(run.device_id), run)
        for dev_id in sorted(unrun):  # files of cases made before runs were recorded
            self._run_action(dev_id, evidence.get(dev_id), None)

    def _run_action(self, device_id: str, evidence: str | None, run: m.IngestRun | None) -> None:
        where = m.File.run_id == run.id if run else m.File.run_id.is_(None)
        files = select(m.File.id, m.File.device_id, m.File.locator).where(
            m.File.device_id == device_id, where
        )
        results = (ref(self.iris("file", r.device_id, r.locator)) for r in _paged(self.case, files))
        objects = [ref(self.iris("device", device_id))] + ([ref(evidence)] if evidence else [])
        props: dict[str, Any] = {"uco-action:object": objects, "uco-action:result": Stream(results)}
        if run is not None:
            props["uco-action:startTime"] = when(run.started_at)
            props["uco-action:endTime"] = when(run.finished_at)
            props["uco-core:description"] = (
                f"tessera ingest of {run.source_path}: {run.status}, {run.files_new} new file(s), "
                f"{run.files_skipped} skipped, {run.errors} error(s); Tessera {run.tool_version or '?'}"
            )
        key = ("run", run.id) if run else ("run", device_id, "unrecorded")
        self.emit_streaming(self.action(key, f"acquisition and extraction of {device_id}", **props))

    # --- files -------------------------------------------------------------------------------------

    def files(self) -> None:
        stmt = select(
            m.File.id,
            m.File.device_id,
            m.File.locator,
            m.File.size,
            m.File.mtime,
            m.File.atime,
            m.File.ctime,
            m.File.crtime,
            m.File.deleted,
            m.File.orphan,
            m.File.is_symlink,
            m.File.sha256,
            m.File.error,
            m.Media.md5,
            m.Media.sha1,
            m.Media.size.label("media_size"),
            m.Media.mime,
            m.Media.pdq,
            m.Media.pdq_quality,
        ).outerjoin(m.Media, m.Media.sha256 == m.File.sha256)
        for row in _paged(self.case, stmt):
            self.emit(file_node(row, self.iris))
            self.stats.files += 1

    # --- messaging ---------------------------------------------------------------------------------

    def messaging(self) -> None:
        with self.case.session() as s:
            platforms = set(s.scalars(select(m.Account.platform).distinct()))
            platforms |= set(s.scalars(select(m.Chat.platform).distinct()))
        for platform in sorted(platforms):
            self.emit(application_node(platform, self.iris))
        accounts = select(m.Account.id, m.Account)
        for page in _batches(_paged(self.case, accounts)):
            ids = [r[0] for r in page]
            raw: dict[int, list[str]] = {}
            with self.case.session() as s:
                for acc_id, raw_id in s.execute(
                    select(m.AccountAlias.account_id, m.AccountAlias.raw_id).where(
                        m.AccountAlias.account_id.in_(ids)
                    )
                ):
                    raw.setdefault(acc_id, []).append(raw_id)
            for acc_id, acc in page:
                self.emit(account_node(acc, raw.get(acc_id, []), self.iris))
                self.stats.accounts += 1
        self._messages()
        self._threads()
        self._sources()

    def _messages(self) -> None:
        sender = aliased(m.Account)
        stmt = (
            select(
                m.Message.id,
                m.Message.device_id,
                m.Message.locator,
                m.Message.time,
                m.Message.kind,
                m.Message.raw_id,
                m.Message.media_sha256,
                m.Message.forwarded,
                m.Message.action,
                m.Chat.platform,
                sender.platform.label("sender_platform"),
                sender.key.label("sender_key"),
            )
            .join(m.Chat, m.Chat.id == m.Message.chat_id)
            .outerjoin(sender, sender.id == m.Message.sender_id)
        )
        for row in _paged(self.case, stmt):
            self.emit(message_node(row, self.iris))
            self.stats.messages += 1

    def _threads(self) -> None:
        creator = aliased(m.Account)
        stmt = select(
            m.Chat.id,
            m.Chat.platform,
            m.Chat.key,
            m.Chat.title,
            m.Chat.kind,
            m.Chat.created_at,
            creator.platform.label("creator_platform"),
            creator.key.label("creator_key"),
        ).outerjoin(creator, creator.id == m.Chat.creator_id)
        for chat in _paged(self.case, stmt):
            with self.case.session() as s:
                members = s.execute(
                    select(m.Account.platform, m.Account.key)
                    .join(m.Membership, m.Membership.account_id == m.Account.id)
                    .where(m.Membership.chat_id == chat.id)
                    .order_by(m.Account.id)
                ).all()
            participants = [self.iris("account", p, k) for p, k in members]
            msgs = select(m.Message.id, m.Message.device_id, m.Message.locator).where(
                m.Message.chat_id == chat.id
            )
            iris = (self.iris("message", r.device_id, r.locator) for r in _paged(self.case, msgs))
            self.emit_streaming(thread_node(chat, participants, iris, self.iris))
            self.stats.threads += 1

    def _sources(self) -> None:
        """One action per messaging source: the file it read, and what it yielded."""
        src_file = aliased(m.File)
        stmt = select(
            m.MessagingSource.id,
            m.MessagingSource.device_id,
            m.MessagingSource.locator,
            m.MessagingSource.parser,
            m.MessagingSource.status,
            m.MessagingSource.error,
            m.MessagingSource.messages,
            m.MessagingSource.parsed_at,
            src_file.id.label("file_id"),
        ).outerjoin(
            src_file,
            (src_file.device_id == m.MessagingSource.device_id)
            & (src_file.locator == m.MessagingSource.locator),
        )
        for src in _paged(self.case, stmt):
            objects = [ref(self.iris("device", src.device_id))]
            if src.file_id is not None:
                objects.append(ref(self.iris("file", src.device_id, src.locator)))
            msgs = select(m.Message.id, m.Message.device_id, m.Message.locator).where(
                m.Message.source_id == src.id
            )
            results = chain(
                (ref(self.iris("message", r.device_id, r.locator)) for r in _paged(self.case, msgs)),
                (ref(iri) for iri in self._sighted(src.id)),
            )
            error = f" ({src.error})" if src.error else ""
            description = (
                f"{src.parser} on {src.device_id}:{src.locator}: {src.status}{error}, "
                f"{src.messages} message(s)"
            )
            self.emit_streaming(
                self.action(
                    ("source", src.device_id, src.locator),
                    f"messaging extraction ({src.parser})",
                    **{
                        "uco-action:endTime": when(src.parsed_at),
                        "uco-action:object": objects,
                        "uco-action:result": Stream(results),
                        "uco-core:description": description,
                    },
                )
            )

    def _sighted(self, source_id: int) -> Iterator[str]:
        """The accounts and groups a source showed (its sightings)."""
        acc, chat = aliased(m.Account), aliased(m.Chat)
        stmt = (
            select(
                m.Sighting.id,
                acc.platform,
                acc.key,
                chat.platform.label("chat_platform"),
                chat.key.label("chat_key"),
            )
            .outerjoin(acc, (m.Sighting.entity == "account") & (acc.id == m.Sighting.entity_id))
            .outerjoin(chat, (m.Sighting.entity == "chat") & (chat.id == m.Sighting.entity_id))
            .where(m.Sighting.source_id == source_id)
        )
        for row in _paged(self.case, stmt):
            if row.platform is not None:
                yield self.iris("account", row.platform, row.key)
            elif row.chat_platform is not None:
                yield self.iris("thread", row.chat_platform, row.chat_key)
            else:
                self.stats.left_out["sighting of an unknown entity"] = (
                    self.stats.left_out.get("sighting of an unknown entity", 0) + 1
                )


def _batches(rows: Iterator[Any], size: int = _BATCH) -> Iterator[list[Any]]:
    page: list[Any] = []
    for row in rows:
        page.append(row)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


def write_case(case: CaseHandle, fh: IO[str], now: datetime | None = None) -> CaseExport:
    """Write the case as CASE/UCO JSON-LD to ``fh``; returns what was written."""
    ex = _Export(case, fh, now or datetime.now(UTC))
    ex.header()
    ex.devices()
    ex.files()
    ex.messaging()
    write_findings(ex)
    ex.out.close()
    ex.stats.nodes = ex.out.count
    return ex.stats


def export_case(case: CaseHandle, out: Path, now: datetime | None = None) -> CaseExport:
    """Write ``out`` (via a temporary file, so a failed export leaves no half document)."""
    tmp = out.with_name(out.name + ".part")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            stats = write_case(case, fh, now)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return stats

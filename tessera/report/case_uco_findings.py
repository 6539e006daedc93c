"""CASE/UCO out, findings: hash-set matches and reviewers' decisions as provenance-carrying annotations.

A match or a decision is about content (a SHA-256); the annotation's objects are every file in the
case holding that content. Each hash set's matches hang off one ``InvestigativeAction`` (Tessera the
instrument) and one ``ProvenanceRecord`` listing them; each decision gets its own action, performed
by the reviewer, and its own record. Reviewers' notes are not exported (free text may describe the
content; SPEC: exports carry hashes and metadata only).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select

from tessera.report.case_uco_nodes import Node, Stream, put, ref, when
from tessera.store import models as m

if TYPE_CHECKING:
    from tessera.report.case_uco import _Export


def write_findings(ex: _Export) -> None:
    _matches(ex)
    _decisions(ex)


def _held() -> Any:
    """Content some file of the case holds (an annotation needs at least one object)."""
    return select(m.File.id).where(m.File.sha256 == m.Match.sha256).exists()


def _files_of(ex: _Export, shas: set[str]) -> dict[str, list[Node]]:
    from tessera.report.case_uco import _BATCH

    out: dict[str, list[Node]] = {}
    ordered = sorted(shas)
    for i in range(0, len(ordered), _BATCH):
        with ex.case.session() as s:
            rows = s.execute(
                select(m.File.sha256, m.File.device_id, m.File.locator)
                .where(m.File.sha256.in_(ordered[i : i + _BATCH]))
                .order_by(m.File.id)
            ).all()
        for sha, device_id, locator in rows:
            assert sha is not None  # selected by it
            out.setdefault(sha, []).append(ref(ex.iris("file", device_id, locator)))
    return out


def _pages(ex: _Export, stmt: Select[*tuple[Any, ...]]) -> Iterator[list[Any]]:
    from tessera.report.case_uco import _batches, _paged

    return _batches(_paged(ex.case, stmt))


def _left_out(ex: _Export, why: str, n: int) -> None:
    if n:
        ex.stats.left_out[why] = ex.stats.left_out.get(why, 0) + n


def _matches(ex: _Export) -> None:
    from tessera.report.case_uco import _paged

    with ex.case.session() as s:
        sets = s.execute(select(m.HashSet).order_by(m.HashSet.id)).scalars().all()
        orphans = s.scalar(select(func.count(m.Match.id)).where(~_held())) or 0
    _left_out(ex, "match on content no file of the case holds", orphans)
    for hs in sets:
        stmt = (
            select(
                m.Match.id,
                m.Match.sha256,
                m.Match.algorithm,
                m.Match.distance,
                m.Match.found_at,
                m.HashEntry.value,
                m.HashEntry.category,
            )
            .join(m.HashEntry, m.HashEntry.id == m.Match.entry_id)
            .where(m.Match.hashset_id == hs.id, _held())
        )

        def annotations(stmt: Select[*tuple[Any, ...]] = stmt, name: str = hs.name) -> Iterator[Node]:
            for r in _paged(ex.case, stmt):
                yield ref(ex.iris("match", r.sha256, name, r.algorithm, r.value))

        record = ex.iris("provenance", "hashset", hs.name)
        source = f", source file SHA-256 {hs.source_sha256}" if hs.source_sha256 else ""
        ex.emit_streaming(
            ex.action(
                ("matching", hs.name),
                f"hash-set matching: {hs.name}",
                **{
                    "uco-action:startTime": when(hs.imported_at),
                    "uco-action:result": Stream(chain([ref(record)], annotations())),
                    "uco-core:description": f"{hs.format} {hs.version or ''}".strip() + source,
                },
            )
        )
        ex.emit_streaming(
            {
                "@id": record,
                "@type": "case-investigation:ProvenanceRecord",
                "uco-core:description": f"matches against hash set {hs.name}",
                "uco-core:object": Stream(annotations()),
            }
        )
        for page in _pages(ex, stmt):
            files = _files_of(ex, {r.sha256 for r in page})
            for r in page:
                node: Node = {
                    "@id": ex.iris("match", r.sha256, hs.name, r.algorithm, r.value),
                    "@type": "uco-core:Annotation",
                    "uco-core:object": files[r.sha256],
                    "uco-core:statement": (
                        f"matches hash set {hs.name} by {r.algorithm}, distance {r.distance}"
                        + (f", category {r.category}" if r.category is not None else "")
                    ),
                    "uco-core:tag": ["hash-set-match"]
                    + ([f"category:{r.category}"] if r.category is not None else []),
                }
                put(node, "uco-core:objectCreatedTime", when(r.found_at))
                node["tessera:sha256"] = r.sha256
                node["tessera:hashSet"] = hs.name
                node["tessera:algorithm"] = r.algorithm
                node["tessera:distance"] = r.distance
                put(node, "tessera:category", r.category)
                ex.emit(node)
                ex.stats.matches += 1


def _decisions(ex: _Export) -> None:
    held = select(m.File.id).where(m.File.sha256 == m.Decision.sha256).exists()
    with ex.case.session() as s:
        users = list(s.scalars(select(m.Decision.user).distinct().order_by(m.Decision.user)))
        orphans = s.scalar(select(func.count(m.Decision.id)).where(~held)) or 0
    _left_out(ex, "decision on content no file of the case holds", orphans)
    for user in users:
        ex.emit({"@id": ex.iris("reviewer", user), "@type": "uco-identity:Identity", "uco-core:name": user})
    stmt = select(
        m.Decision.id,
        m.Decision.sha256,
        m.Decision.category,
        m.Decision.profile,
        m.Decision.user,
        m.Decision.decided_at,
        m.Decision.cluster_id,
    ).where(held)
    for page in _pages(ex, stmt):
        files = _files_of(ex, {r.sha256 for r in page})
        for r in page:
            at = when(r.decided_at)
            key = (r.sha256, r.user, at["@value"] if at else r.id)
            annotation, record = ex.iris("decision", *key), ex.iris("provenance", "decision", *key)
            reviewer = ref(ex.iris("reviewer", r.user))
            category = f"category {r.category}" if r.category is not None else "no category"
            node: Node = {
                "@id": annotation,
                "@type": "uco-core:Annotation",
                "uco-core:object": files[r.sha256],
                "uco-core:statement": f"reviewer {r.user} decided: {category} ({r.profile})",
                "uco-core:tag": ["reviewer-decision"]
                + ([f"category:{r.category}"] if r.category is not None else []),
                "uco-core:createdBy": reviewer,
            }
            put(node, "uco-core:objectCreatedTime", at)
            node["tessera:sha256"] = r.sha256
            put(node, "tessera:category", r.category)
            node["tessera:categoryProfile"] = r.profile
            put(node, "tessera:cluster", r.cluster_id)
            ex.emit(node)
            ex.emit(
                ex.action(
                    ("decision", *key),
                    "review decision",
                    **{
                        "uco-action:performer": reviewer,
                        "uco-action:startTime": at,
                        "uco-action:object": files[r.sha256],
                        "uco-action:result": [ref(annotation), ref(record)],
                    },
                )
            )
            ex.emit(
                {
                    "@id": record,
                    "@type": "case-investigation:ProvenanceRecord",
                    "uco-core:description": f"decision of reviewer {r.user}",
                    "uco-core:object": [ref(annotation)],
                }
            )
            ex.stats.decisions += 1

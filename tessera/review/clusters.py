"""Near-duplicate clusters of media by PDQ distance, kept in ``media_cluster``.

Two images are linked when their PDQ hashes are within the threshold; clusters are the connected
components (union-find). The threshold is the matching default (31, SPEC "Hashing and matching"), so an
item and the near-duplicates a hash set would match against it fall in one cluster; a case can lower it
with the ``cluster_threshold`` setting where chaining joins unrelated items. Only images with a usable
PDQ hash (quality >= 50, like matching) are clustered; everything else is its own cluster.

Computed once per case and then incrementally: only media without a ``media_cluster`` row are searched
against the whole index, and clusters they link together are merged (relabelled to the smallest
member SHA-256, so ids are deterministic).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tessera.hashing.algorithms import ALGORITHMS
from tessera.items.unionfind import UnionFind
from tessera.matching.pdq import PdqIndex, hex_to_rows
from tessera.store import models as m
from tessera.store.models_review import MediaCluster

_PDQ = ALGORITHMS.get("pdq")


def _threshold(session: Session) -> int:
    case = session.scalar(select(m.Case).limit(1))
    settings: dict[str, Any] = (case.settings if case else None) or {}
    return int(settings.get("cluster_threshold", _PDQ.default_threshold))


def update_clusters(session: Session, threshold: int | None = None) -> int:
    """Assign every media item without a cluster; returns how many were assigned (caller commits)."""
    radius = _threshold(session) if threshold is None else threshold
    known = dict(session.execute(select(MediaCluster.sha256, MediaCluster.cluster_id)).all())
    new = [s for s in session.scalars(select(m.Media.sha256)) if s not in known]
    if not new:
        return 0
    hashed = session.execute(
        select(m.Media.sha256, m.Media.pdq).where(
            m.Media.pdq.is_not(None), m.Media.pdq_quality >= _PDQ.min_quality
        )
    ).all()
    shas = [r[0] for r in hashed]
    uf: UnionFind[str] = UnionFind()
    new_set = set(new)
    queries = [i for i, s in enumerate(shas) if s in new_set]
    if queries:
        index = PdqIndex(len(shas))
        index.add(np.arange(len(shas), dtype=np.int64), hex_to_rows(str(r[1]) for r in hashed))
        q_idx, ids, _ = index.search(hex_to_rows(str(hashed[i][1]) for i in queries), radius)
        for qi, ref in zip(q_idx.tolist(), ids.tolist(), strict=True):
            a, b = shas[queries[qi]], shas[ref]
            # An existing item stands for its whole cluster: union through its cluster id.
            uf.union(known.get(a, a), known.get(b, b))
    # Clusters touched by new links are relabelled as a whole.
    relabel: dict[str, str] = {}
    existing_ids = set(known.values())
    for root in list(uf.parent):
        top = uf.find(root)
        if root != top and root in existing_ids:
            relabel[root] = top
    for old, top in relabel.items():
        session.execute(update(MediaCluster).where(MediaCluster.cluster_id == old).values(cluster_id=top))
    session.add_all(MediaCluster(sha256=s, cluster_id=uf.find(s) if s in uf.parent else s) for s in new)
    session.flush()
    return len(new)


def cluster_of(session: Session, sha256: str) -> str | None:
    return session.scalar(select(MediaCluster.cluster_id).where(MediaCluster.sha256 == sha256))


def members(session: Session, cluster_id: str) -> list[str]:
    return list(
        session.scalars(
            select(MediaCluster.sha256)
            .where(MediaCluster.cluster_id == cluster_id)
            .order_by(MediaCluster.sha256)
        )
    )

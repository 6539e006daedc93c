"""Perceptual links between media, and the spanning forest that turns them into items.

Pure computation over integer node ids (no database), so it can be measured on a million hashes. A link
is ``(a, b, distance, via)``; the items are the connected components of all links within the threshold.
Each member records one link that joined it (``linked_to`` + ``distance``): a breadth-first spanning
tree from the item's key (its smallest node), each member taking its shortest link to a member one step
closer, so every member has a chain of checkable links back to the key, each within the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tessera.matching.pdq import PdqIndex

VIA_ORDER = ("self", "pdq", "vpdq", "frame", "app-hash")
QUERY_SLICE = 100_000


@dataclass
class Links:
    a: list[npt.NDArray[np.int64]] = field(default_factory=list)
    b: list[npt.NDArray[np.int64]] = field(default_factory=list)
    d: list[npt.NDArray[np.int64]] = field(default_factory=list)
    via: list[npt.NDArray[np.int8]] = field(default_factory=list)

    def add(self, a: npt.ArrayLike, b: npt.ArrayLike, d: npt.ArrayLike, via: str) -> None:
        a_arr, b_arr = np.asarray(a, np.int64), np.asarray(b, np.int64)
        keep = a_arr != b_arr  # a medium always matches itself
        self.a.append(a_arr[keep])
        self.b.append(b_arr[keep])
        self.d.append(np.asarray(d, np.int64)[keep])
        self.via.append(np.full(int(keep.sum()), VIA_ORDER.index(via), np.int8))

    def arrays(self) -> tuple[npt.NDArray[np.int64], ...]:
        if not self.a:
            z = np.zeros(0, np.int64)
            return z, z, z, z
        return (
            np.concatenate(self.a),
            np.concatenate(self.b),
            np.concatenate(self.d),
            np.concatenate(self.via).astype(np.int64),
        )


def pdq_links(
    links: Links,
    index: PdqIndex,
    query_nodes: npt.NDArray[np.int64],
    queries: npt.NDArray[np.uint8],
    radius: int,
    via: str = "pdq",
) -> None:
    """Search ``queries`` (hash rows of ``query_nodes``) in ``index`` (ids = node ids); add every pair."""
    if len(query_nodes) == 0 or len(index) == 0:
        return
    # In slices: one search of a million queries holds all their intermediate results at once (3.6 GiB
    # peak measured at 1M); slices of 100,000 keep the peak near the index's own size, and are faster.
    for start in range(0, len(query_nodes), QUERY_SLICE):
        stop = start + QUERY_SLICE
        q_idx, ids, dist = index.search(queries[start:stop], radius)
        links.add(query_nodes[start:stop][q_idx], ids, dist, via)


@dataclass
class Forest:
    """Per node: its root (the smallest node of its item) and the link that joined it."""

    root: npt.NDArray[np.int64]
    parent: npt.NDArray[np.int64]  # -1 for a root
    distance: npt.NDArray[np.int64]  # -1 for a root
    via: npt.NDArray[np.int64]  # index into VIA_ORDER


def spanning_forest(
    n: int,
    kept: Sequence[tuple[int, int, int, int]],
    a: npt.NDArray[np.int64],
    b: npt.NDArray[np.int64],
    d: npt.NDArray[np.int64],
    via: npt.NDArray[np.int64],
    nodes: npt.NDArray[np.int64] | None = None,
) -> Forest:
    """Components and a spanning tree per component over nodes ``0..n-1``, from the ``kept`` links
    (stored links of existing items) and the new ones. Vectorised (numpy), so a million nodes and a few
    million links cost seconds and little memory beyond the link arrays. ``nodes`` is accepted for
    callers that only need some components; every node is computed (it costs no more)."""
    del nodes
    if kept:
        ka, kb, kd, kv = (np.asarray(col, np.int64) for col in zip(*kept, strict=True))
        a, b, d, via = (np.concatenate(p) for p in ((a, ka), (b, kb), (d, kd), (via, kv)))
    # A self-join finds every pair twice (a->b and b->a): keep each pair once, at its shortest link.
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    order = np.lexsort((via, d, hi, lo))
    lo, hi, d, via = lo[order], hi[order], d[order], via[order]
    first = np.ones(len(lo), bool)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    lo, hi, d, via = lo[first], hi[first], d[first], via[first]
    root = _components(n, lo, hi)
    # Breadth first from each key (its smallest node), one level per pass: every node not yet reached
    # with a link to a reached one takes its shortest such link (then the lower via, then the lower
    # node), so its link points one step closer to the key.
    parent = np.full(n, -1, np.int64)
    distance = np.full(n, -1, np.int64)
    via_out = np.zeros(n, np.int64)
    reached = root == np.arange(n, dtype=np.int64)
    src, dst = np.concatenate((lo, hi)), np.concatenate((hi, lo))
    dd, vv = np.concatenate((d, d)), np.concatenate((via, via))
    while True:
        cand = reached[src] & ~reached[dst]
        if not cand.any():
            break
        s, t, cd, cv = src[cand], dst[cand], dd[cand], vv[cand]
        order = np.lexsort((s, cv, cd, t))
        t_sorted = t[order]
        pick = np.ones(len(order), bool)
        pick[1:] = t_sorted[1:] != t_sorted[:-1]
        sel = order[pick]
        parent[t[sel]], distance[t[sel]], via_out[t[sel]] = s[sel], cd[sel], cv[sel]
        reached[t[sel]] = True
        keep = ~reached[dst]  # links into reached nodes are done with
        src, dst, dd, vv = src[keep], dst[keep], dd[keep], vv[keep]
    return Forest(root, parent, distance, via_out)


def _components(n: int, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Per node, the smallest node of its connected component: hook each link's larger root under the
    smaller, then jump pointers until every node points at its root; repeat until no link spans two."""
    label = np.arange(n, dtype=np.int64)
    while len(a):
        la, lb = label[a], label[b]
        low = np.minimum(la, lb)
        spans = la != lb
        if not spans.any():
            break
        np.minimum.at(label, la[spans], low[spans])
        np.minimum.at(label, lb[spans], low[spans])
        while True:
            jumped = label[label]
            if np.array_equal(jumped, label):
                break
            label = jumped
    return label

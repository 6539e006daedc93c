"""Perceptual links between media, and the spanning forest that turns them into items.

Pure computation over integer node ids (no database), so it can be measured on a million hashes. A link
is ``(a, b, distance, via)``; the items are the connected components of all links within the threshold.
Each member records one link that joined it (``linked_to`` + ``distance``): the links kept by Kruskal's
algorithm (shortest first) oriented away from the item's key, so every member has a chain of checkable
links back to the key, each within the threshold.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tessera.items.unionfind import UnionFind
from tessera.matching.pdq import PdqIndex

VIA_ORDER = ("self", "pdq", "vpdq", "frame", "app-hash")


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
    q_idx, ids, dist = index.search(queries, radius)
    links.add(query_nodes[q_idx], ids, dist, via)


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
    """Components of ``kept`` links (taken first, as they are: the stored trees of existing items) plus
    the new links (shortest first), over nodes ``0..n-1``; only ``nodes`` (default all) are oriented."""
    uf: UnionFind[int] = UnionFind()
    adj: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for x, y, dist, v in kept:
        if uf.union(x, y):
            adj[x].append((y, dist, v))
            adj[y].append((x, dist, v))
    # A self-join finds every pair twice (a->b and b->a): keep each pair once, at its shortest link.
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    order = np.lexsort((via, d, hi, lo))
    lo, hi, d, via = lo[order], hi[order], d[order], via[order]
    first = np.ones(len(lo), bool)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    a, b, d, via = lo[first], hi[first], d[first], via[first]
    order = np.lexsort((via, d))
    for x, y, dist, v in zip(
        a[order].tolist(), b[order].tolist(), d[order].tolist(), via[order].tolist(), strict=True
    ):
        if uf.union(x, y):
            adj[x].append((y, dist, v))
            adj[y].append((x, dist, v))
    root = np.arange(n, dtype=np.int64)
    parent = np.full(n, -1, np.int64)
    distance = np.full(n, -1, np.int64)
    via_out = np.zeros(n, np.int64)
    todo = range(n) if nodes is None else nodes.tolist()
    seen: set[int] = set()
    for start in todo:
        top = uf.find(start) if start in uf.parent else start
        if top in seen:
            continue
        seen.add(top)
        # Breadth first from the key: each member's link points one step closer to it.
        queue = deque([top])
        while queue:
            x = queue.popleft()
            root[x] = top
            for y, dist, v in adj.get(x, ()):
                if y != top and parent[y] == -1:
                    parent[y], distance[y], via_out[y] = x, dist, v
                    queue.append(y)
    return Forest(root, parent, distance, via_out)

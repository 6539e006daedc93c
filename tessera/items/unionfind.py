"""Union-find with deterministic roots, shared by review clusters and near-duplicate items.

The root of a set is always its smallest member (the smallest SHA-256 for string keys, the smallest
index for integer keys), so group ids do not depend on the order links were found in.
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K", str, int)


class UnionFind(Generic[K]):
    def __init__(self) -> None:
        self.parent: dict[K, K] = {}

    def find(self, x: K) -> K:
        root = x
        while self.parent.setdefault(root, root) != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: K, b: K) -> bool:
        """Join the sets of ``a`` and ``b``; False when they were already one (the link adds nothing)."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        lo, hi = (ra, rb) if ra < rb else (rb, ra)
        self.parent[hi] = lo  # the smallest member stays the root: deterministic ids
        return True

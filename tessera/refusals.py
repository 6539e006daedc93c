"""Refused requests in an audit log, aggregated: one row per client, caller and minute with the count
by status, instead of one chained row (and one lock on the chain head) per refusal. A flood of
refusals then costs the log a row a minute per client, not a row a request.

The hub counts its 401, 403 and 429 answers here (every accepted request is logged on its own); the
workstation counts every 4xx it answers (bad input, not signed in, CSRF, too large, rate-limited),
since it logs only decisions, reveals and sign-ins one by one.

Counts live in memory until their minute is over; they are written by the next request after that,
or when the server stops. A server killed outright loses at most the last minute of refusal counts.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

#: ``append(session, user, action, subject, details)`` of the audit log the rows go to.
Append = Callable[[Session, str, str, str, dict[str, Any]], object]

REFUSED = frozenset({401, 403, 429})
WINDOW_S = 60
MAX_KEYS = 5_000


class RefusalLog:
    def __init__(self, append: Append, clock: Callable[[], float] = time.time) -> None:
        self.append = append
        self.clock = clock
        self._counts: dict[tuple[int, str, str], Counter[int]] = {}
        self._lock = threading.Lock()

    def note(self, client: str, who: str, status: int) -> None:
        """Count one refusal (cheap: no database, no chain lock)."""
        window = int(self.clock() // WINDOW_S)
        key = (window, client[:100], who)
        with self._lock:
            if key not in self._counts and len(self._counts) >= MAX_KEYS:
                # Thousands of addresses in one minute: count the rest together, not one key each.
                key = (window, "other", "various")
            self._counts.setdefault(key, Counter())[status] += 1

    def due(self, everything: bool = False) -> bool:
        current = int(self.clock() // WINDOW_S)
        with self._lock:
            return any(everything or w < current for w, _, _ in self._counts)

    def flush(self, s: Session, everything: bool = False) -> int:
        """Append one row per finished window (all windows with ``everything``); returns rows written.
        Runs in the caller's transaction: commit it."""
        current = int(self.clock() // WINDOW_S)
        with self._lock:
            keys = sorted(k for k in self._counts if everything or k[0] < current)
            taken = [(k, self._counts.pop(k)) for k in keys]
        for (window, client, who), counts in taken:
            start = datetime.fromtimestamp(window * WINDOW_S, UTC).isoformat(timespec="seconds")
            details = {
                "refused": sum(counts.values()),
                "status": {str(k): v for k, v in sorted(counts.items())},
                "client": client,
                "window_start": start,
                "window_s": WINDOW_S,
            }
            self.append(s, who, "refused requests", f"client {client}", details)
        return len(taken)

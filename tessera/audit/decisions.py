"""Every decision row is covered: the log's ``decision`` entries, replayed per media item, must give
exactly the rows of the ``decision`` table (same order, category, profile and user). A category edited
in the table, a row added without an audit entry, or a row deleted is named by its decision row id.
"""

from __future__ import annotations

import json
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.store import models as m

# What a decision is, as both the log (details JSON) and the table record it.
Fact = tuple[int | None, str, str]


def _from_log(session: Session) -> dict[str, list[tuple[Fact, int]]]:
    out: dict[str, list[tuple[Fact, int]]] = defaultdict(list)
    q = (
        select(m.AuditEntry.id, m.AuditEntry.subject, m.AuditEntry.user, m.AuditEntry.details)
        .where(m.AuditEntry.action == "decision")
        .order_by(m.AuditEntry.id)
    )
    for eid, subject, user, details in session.execute(q):
        try:
            body = json.loads(details)
        except ValueError:
            body = {}
        category = body.get("category") if isinstance(body, dict) else None
        profile = body.get("profile", "vics-us") if isinstance(body, dict) else "vics-us"
        out[subject].append(((category, str(profile), user), eid))
    return out


def check_decisions(session: Session) -> int:
    """Returns the number of decision rows checked; raises AuditError at the lowest bad row."""
    from tessera.audit.log import AuditError

    logged = _from_log(session)
    table: dict[str, list[tuple[Fact, int]]] = defaultdict(list)
    rows = 0
    q = select(m.Decision.id, m.Decision.sha256, m.Decision.category, m.Decision.profile, m.Decision.user)
    for did, sha, category, profile, user in session.execute(q.order_by(m.Decision.id)):
        table[sha].append(((category, profile, user), did))
        rows += 1
    problems: list[tuple[int, str]] = []
    for sha in set(table) | set(logged):
        have, want = table.get(sha, []), logged.get(sha, [])
        for i in range(max(len(have), len(want))):
            if i >= len(want):
                did = have[i][1]
                problems.append((did, f"decision row {did} (media {sha}) has no audit entry"))
            elif i >= len(have):
                fact, eid = want[i]
                # No row to name: sort it after the rows, by the entry that recorded it.
                problems.append(
                    (
                        1 << 62 | eid,
                        f"decision recorded by audit entry {eid} (media {sha}, category "
                        f"{fact[0]}) is missing from the decision table",
                    )
                )
            elif have[i][0] != want[i][0]:
                (cat, prof, user), did = have[i]
                (lcat, lprof, luser), eid = want[i]
                problems.append(
                    (
                        did,
                        f"decision row {did} (media {sha}): category {cat} ({prof}, by {user}) but the "
                        f"audit log, entry {eid}, records {lcat} ({lprof}, by {luser})",
                    )
                )
    if problems:
        problems.sort()
        first_id, message = problems[0]
        more = f" ({len(problems) - 1} more decision rows differ)" if len(problems) > 1 else ""
        raise AuditError(message + more, first_id if first_id < 1 << 62 else None)
    return rows

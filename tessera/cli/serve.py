"""tessera serve (placeholder until the review workstation lands)."""

from __future__ import annotations

from tessera.cli.common import CaseOpt, fail


def command(case: CaseOpt = None) -> None:
    """Start the review workstation."""
    fail("the review workstation is not built yet")

"""The hop operation (every forward a new copy, 1-30 PDQ bits from the one before) stored in a case."""

from __future__ import annotations

import pytest

from tessera.items.grouping import update_items
from tessera.store.case import CaseHandle
from tessera.synth.hops import HopOperation, make_hops

OP: HopOperation = make_hops(7)


@pytest.fixture
def hop_case(case: CaseHandle) -> CaseHandle:
    from tessera.synth.hops import load

    with case.session() as s:
        load(s, OP)
        update_items(s)
        s.commit()
    return case

"""The network analysis asks the database a fixed number of questions whatever the size of the
network: cross-device accounts and groups, and the report's whole network section."""

from __future__ import annotations

from tessera.ingest.messaging import store_source
from tessera.messaging.coverage import Coverage
from tessera.network import analysis
from tessera.report.build import network_section
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.synth.bulk_chats import chat_records
from tests.sqlcount import counted

DEVICES = ("X1", "X2")


def _grow(case: CaseHandle, accounts: int, groups: int, first: int) -> None:
    """``accounts`` more accounts in ``groups`` more groups, all of them on both seized phones."""
    for device in DEVICES:
        source = f"/{device}/msgstore-{first}.db"
        cov = Coverage()
        records = chat_records(accounts * 3, accounts, groups, cov, source, first)
        res = store_source(case.session, device, source, "bulk-test", records, coverage=cov)
        assert res.status == "complete", res


def _measure(case: CaseHandle, accounts: int, groups: int) -> tuple[int, int, int]:
    with case.session() as s:
        with counted(case) as by_account:
            found = analysis.cross_device(s, "account")
        with counted(case) as by_group:
            found_groups = analysis.cross_device(s, "chat")
        with counted(case) as section:
            network_section(s)
    assert len(found) == accounts and len(found_groups) == groups
    assert all(r["devices"] == list(DEVICES) and r["count"] == 2 for r in found + found_groups)
    return len(by_account), len(by_group), len(section)


def test_cross_device_and_network_section_do_not_grow_with_the_network(case: CaseHandle) -> None:
    with case.session() as s:
        s.add_all([m.Device(id=d, kind="phone", source_path=f"/synthetic/{d}") for d in DEVICES])
        s.commit()
    _grow(case, accounts=4, groups=2, first=0)
    small = _measure(case, accounts=4, groups=2)
    _grow(case, accounts=40, groups=20, first=100)  # eleven times the accounts and groups
    large = _measure(case, accounts=44, groups=22)
    assert small == large, (small, large)
    assert large[0] <= 2 and large[1] <= 2, large

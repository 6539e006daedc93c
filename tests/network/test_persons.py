"""One person across platforms: a synthetic Android WhatsApp phone and a synthetic Telegram Desktop export
of the same operation, ingested as two devices; the accounts that carry the same international number
become one person with the evidence of the link, and nothing else does.

The expected persons are read from the generated files themselves (the numbers ``result.json`` writes,
the JIDs the msgstore holds), not from the parser's output.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from sqlalchemy import select, update

from tessera.ingest.pipeline import IngestOptions, ingest
from tessera.network import analysis
from tessera.network.persons import RULE, link_persons, not_linked, persons
from tessera.report.build import build_report
from tessera.report.render import write_html
from tessera.store import models as m
from tessera.store.case import CaseHandle
from tessera.store.models_person import Person, PersonLink
from tessera.synth.chatstorage import write_chatstorage
from tessera.synth.msgstore import write_phone_tree
from tessera.synth.msgstore_apps import write_app_tree
from tessera.synth.network import Seizure, make_network
from tessera.synth.telegram import write_telegram_export

NET = make_network(31, n_people=24, n_wa_groups=2, n_tg_groups=1, n_items=6, n_posts=80, image_size=(48, 32))
WA: Seizure = next(s for s in NET.seizures if s.format == "msgstore-current")
TG: Seizure = next(s for s in NET.seizures if s.format == "telegram")
MSGSTORE = "/data/data/com.whatsapp/databases/msgstore.db"
FRESH = "+44 7700 900123"  # a valid number no one of the operation has


def _e164(written: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(written), phonenumbers.PhoneNumberFormat.E164)


def _national(written: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(written), phonenumbers.PhoneNumberFormat.NATIONAL)


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("persons")
    write_phone_tree(NET, WA, root / "wa")
    result = write_telegram_export(NET, TG, root / "tg")
    export = json.loads(result.read_text("utf-8"))
    written = {  # E.164 -> the number as the export writes it
        _e164(c["phone_number"]): c["phone_number"]
        for c in [export["personal_information"], *export["contacts"]["list"]]
    }
    on_whatsapp = {NET.people[k].phone for k in NET.seen_on(WA)}
    shared = sorted(set(written) & on_whatsapp)
    contacts = [c for c in export["contacts"]["list"] if _e164(c["phone_number"]) in shared]
    assert len(shared) >= 3 and len(contacts) >= 2, "the operation must give the test shared numbers"
    # The same export with one shared contact's number in national form, and another's changed to a
    # number nobody else has, under the first one's name (a person is never linked by name).
    national, other = contacts[0], contacts[1]
    changed = json.loads(json.dumps(export))
    for c in changed["contacts"]["list"]:
        if c["user_id"] == national["user_id"]:
            c["phone_number"] = _national(national["phone_number"])
        elif c["user_id"] == other["user_id"]:
            c["phone_number"] = FRESH
            c["first_name"], c["last_name"] = national["first_name"], national["last_name"]
    (root / "tg2").mkdir()
    (root / "tg2" / "result.json").write_text(json.dumps(changed, ensure_ascii=False), "utf-8")
    return {
        "root": root,
        "written": written,
        "shared": shared,
        "national": _e164(national["phone_number"]),
        "other": _e164(other["phone_number"]),
    }


def _ingest(case: CaseHandle, root: Path, tg: str = "tg") -> None:
    ingest(case, root / "wa", IngestOptions("P-01", kind="phone", workers=0))
    ingest(case, root / tg, IngestOptions("T-01", kind="phone", workers=0))


def _person_of(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["phone"]: p for p in rows}


def test_same_number_on_whatsapp_and_telegram_is_one_person(
    case: CaseHandle, evidence: dict[str, Any]
) -> None:
    _ingest(case, evidence["root"])
    with case.session() as s:
        found = _person_of(persons(s))
        assert sorted(found) == evidence["shared"]
        for phone, p in found.items():
            assert (p["person"], p["rule"], p["platforms"]) == (
                f"phone:{phone}",
                RULE,
                ["telegram", "whatsapp"],
            )
            wa, tg = sorted(p["accounts"], key=lambda a: a["platform"] != "whatsapp")
            # Two accounts, one per platform, never merged (each platform keys a number by E.164).
            assert wa["account"] == tg["account"] == phone
            jid = phone.lstrip("+") + "@s.whatsapp.net"
            assert {"value": jid, "form": "WhatsApp JID (its user part is the international number)"} in wa[
                "evidence"
            ]["raw"]
            assert {"device": "P-01", "locator": MSGSTORE, "parser": "whatsapp-msgstore"} in wa["evidence"][
                "sources"
            ]
            as_written = evidence["written"][phone]
            assert tg["evidence"]["raw"] == [
                {"value": as_written, "form": "number as written (international form)"}
            ]
            assert tg["evidence"]["sources"] == [
                {"device": "T-01", "locator": "/result.json", "parser": "telegram-export"}
            ]
            assert all(
                a["phone"] == phone and a["evidence"]["field"] == "account.phone" for a in p["accounts"]
            )
        # Shown where accounts are shown: every linked account names its person, no other does.
        listed = {(a.platform, a.account): a.person for a in analysis.accounts(s)}
        linked = {(a["platform"], a["account"]): p["person"] for p in found.values() for a in p["accounts"]}
        assert {k: v for k, v in listed.items() if v} == linked
        assert not_linked(s) == []
        # Recomputed: nothing changes, the rows stay the same rows.
        links = select(PersonLink.id, PersonLink.person_id, PersonLink.account_id)
        before = sorted(tuple(r) for r in s.execute(links))
        again = link_persons(s)
        s.commit()
        assert (again.persons, again.created, again.removed) == (len(found), 0, 0)
        assert sorted(tuple(r) for r in s.execute(links)) == before
        # A link no longer supported goes, with its person.
        gone = evidence["shared"][0]
        s.execute(
            update(m.Account)
            .where(m.Account.platform == "telegram", m.Account.phone == gone)
            .values(phone=None)
        )
        dropped = link_persons(s)
        s.commit()
        assert (dropped.persons, dropped.removed) == (len(found) - 1, 2)
        assert s.scalar(select(Person.id).where(Person.key == f"phone:{gone}")) is None


def test_whatsapp_android_business_ios_and_telegram(
    case: CaseHandle, evidence: dict[str, Any], tmp_path: Path
) -> None:
    """Four apps on four devices: the number is one WhatsApp account whichever WhatsApp app shows it
    (its evidence cites all three parsers) and one Telegram account; one person holds the two."""
    second = next(s for s in NET.seizures if s.format == "msgstore-legacy")  # another member's phone
    write_app_tree(NET, second, tmp_path / "w4b", business=True)
    shared = evidence["shared"]
    jids = [p.lstrip("+") + "@s.whatsapp.net" for p in shared]
    write_chatstorage(tmp_path / "ios", n_messages=30, n_groups=0, n_private=len(jids), people=jids)
    _ingest(case, evidence["root"])
    ingest(case, tmp_path / "w4b", IngestOptions("P-02", kind="phone", workers=0))
    ingest(case, tmp_path / "ios", IngestOptions("I-01", kind="phone", workers=0))
    on_business = {NET.people[k].phone for k in NET.seen_on(second)}
    with case.session() as s:
        found = _person_of(persons(s))
    assert sorted(found) == shared
    for phone, p in found.items():
        assert [a["platform"] for a in p["accounts"]] == ["whatsapp", "telegram"]
        wa = p["accounts"][0]["evidence"]["sources"]
        expected = {("P-01", "whatsapp-msgstore"), ("I-01", "whatsapp-ios")}
        if phone in on_business:
            expected.add(("P-02", "whatsapp-business-msgstore"))
        assert {(x["device"], x["parser"]) for x in wa} == expected, phone
    assert any(phone in on_business for phone in found), "the test needs a number the Business app shows"


def test_national_form_or_another_number_is_not_linked(case: CaseHandle, evidence: dict[str, Any]) -> None:
    _ingest(case, evidence["root"], "tg2")
    with case.session() as s:
        found = _person_of(persons(s))
        expected = set(evidence["shared"]) - {evidence["national"], evidence["other"]}
        assert set(found) == expected and all(len(p["accounts"]) == 2 for p in found.values())
        tg = {a.key: a for a in s.scalars(select(m.Account).where(m.Account.platform == "telegram"))}
        # The national form gives no E.164 at all; the other number is its own, with no second account.
        assert not any(a.phone == evidence["national"] for a in tg.values())
        assert [a.phone for a in tg.values() if a.phone == _e164(FRESH)] == [_e164(FRESH)]
        assert s.scalar(select(Person.id).where(Person.phone.in_([_e164(FRESH), evidence["other"]]))) is None


def test_two_numbers_two_persons_and_what_is_never_linked(case: CaseHandle) -> None:
    """Accounts stored as a source would store them: two numbers on two platforms make two persons;
    a number failing today's plan and a number no raw value gives are reported, not linked."""
    valid_a, valid_b, old_br = "+34612345678", "+5491123456789", "+556199120446"
    rows = [
        ("whatsapp", valid_a, valid_a, True, ["34612345678@s.whatsapp.net"]),
        ("telegram", valid_a, valid_a, True, ["user1", "+34 612 34 56 78"]),
        ("whatsapp", valid_b, valid_b, True, ["5491123456789@s.whatsapp.net"]),
        ("telegram", valid_b, valid_b, True, ["user2", "+54 9 11 2345-6789"]),
        ("whatsapp", old_br, old_br, False, ["556199120446@s.whatsapp.net"]),
        ("telegram", old_br, old_br, False, ["user3", "+55 61 9912-0446"]),
        ("whatsapp", "+4915112345678", "+4915112345678", True, []),  # no raw value behind it
        ("telegram", "+4915112345678", "+4915112345678", True, ["user4", "+49 151 12345678"]),
        ("telegram", "telegram:user5", None, None, ["user5", "612 34 56 78"]),  # national form only
    ]
    with case.session() as s:
        for platform, key, phone, valid, aliases in rows:
            acc = m.Account(platform=platform, key=key, phone=phone, phone_valid=valid, names=["Same Name"])
            s.add(acc)
            s.flush()
            for raw in aliases:
                s.add(m.AccountAlias(account_id=acc.id, platform=platform, raw_id=raw, scope=""))
        done = link_persons(s)
        s.commit()
        assert (done.persons, done.links, done.created) == (2, 4, 4)
        found = _person_of(persons(s))
        assert sorted(found) == sorted([valid_a, valid_b])
        assert [(a["platform"], a["account"]) for a in found[valid_a]["accounts"]] == [
            ("whatsapp", valid_a),
            ("telegram", valid_a),
        ]
        assert found[valid_a]["accounts"][1]["evidence"]["raw"] == [
            {"value": "+34 612 34 56 78", "form": "number as written (international form)"}
        ]
        reasons = {(n["phone"], tuple(n["accounts"]), n["reason"]) for n in not_linked(s)}
        assert reasons == {
            (
                old_br,
                ("whatsapp:+556199120446", "telegram:+556199120446"),
                "not a valid number by today's numbering plans (phone_valid false)",
            ),
            ("+4915112345678", ("whatsapp:+4915112345678",), "no stored raw identifier gives this number"),
        }


def test_cli_and_report_show_persons(
    sqlite_case: CaseHandle, evidence: dict[str, Any], tmp_path: Path
) -> None:
    _ingest(sqlite_case, evidence["root"])

    def tessera(*args: str) -> Any:
        r = subprocess.run(
            [sys.executable, "-m", "tessera", *args, "--case", str(sqlite_case.directory)],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stderr
        return r.stdout

    listed = json.loads(tessera("persons", "--format", "json", "--recompute"))
    assert sorted(p["phone"] for p in listed) == evidence["shared"]
    rows = list(csv.DictReader(io.StringIO(tessera("persons", "--format", "csv"))))
    assert sorted((r["person"], r["platform"]) for r in rows) == sorted(
        (f"phone:{p}", platform) for p in evidence["shared"] for platform in ("telegram", "whatsapp")
    )
    assert all(
        r["raw values"] and "P-01:" + MSGSTORE in r["sources"] for r in rows if r["platform"] == "whatsapp"
    )
    assert "person" in tessera("persons").lower()  # the table renders
    accounts = json.loads(tessera("accounts", "--format", "json"))
    assert {a["person"] for a in accounts if a["person"]} == {f"phone:{p}" for p in evidence["shared"]}
    report = build_report(sqlite_case)
    assert sorted(p["phone"] for p in report["network"]["persons"]) == evidence["shared"]
    write_html(report, tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text("utf-8")
    assert "Persons: one number, several platforms" in html
    assert all(evidence["written"][p] in html for p in evidence["shared"])


def test_telegram_for_android_and_whatsapp_on_one_phone(case: CaseHandle, tmp_path: Path) -> None:
    """Telegram for Android's user objects hold the international digits without a plus; they link to
    the WhatsApp account of the same digits like a Telegram Desktop export's numbers do."""
    from tessera.synth.cache4 import USERS, write_cache4

    phone = tmp_path / "phone"
    write_cache4(phone / "data/data/org.telegram.messenger/files/cache4.db")
    digits = sorted(d for *_, d in USERS.values())[1:4]  # three of the people Telegram knows
    jids = [d + "@s.whatsapp.net" for d in digits]
    write_chatstorage(phone / "whatsapp", n_messages=20, n_groups=0, n_private=len(jids), people=jids)
    ingest(case, phone, IngestOptions("P-09", kind="phone", workers=0))
    with case.session() as s:
        found = _person_of(persons(s))
    assert sorted(found) == sorted("+" + d for d in digits)
    for p in found.values():
        assert sorted(a["platform"] for a in p["accounts"]) == ["telegram", "whatsapp"]

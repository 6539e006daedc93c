import pytest

from tessera.messaging.identity import normalise_phone
from tessera.synth.network import make_network

FORMS = [
    "+34 612 34 56 78",
    "0034612345678",
    "612345678@s.whatsapp.net",
    "34612345678@s.whatsapp.net",
    "(+34) 612-345-678",
    "\u202a+34 612 34 56 78\u202c",
    "612 34 56 78",
]


def test_five_local_forms_become_one_spanish_account() -> None:
    phones = {normalise_phone(f, region="ES") for f in FORMS}
    assert len(phones) == 1
    phone = phones.pop()
    assert phone is not None and phone.e164 == "+34612345678" and phone.country == "ES"


@pytest.mark.parametrize(
    "text", ["Member 0001", "120363400000000001@g.us", "1234567890123@lid", "", "+1", "abc123"]
)
def test_non_numbers_are_refused(text: str) -> None:
    assert normalise_phone(text, region="ES") is None


def test_international_forms_need_no_region() -> None:
    assert normalise_phone("+351 912 345 678") is not None
    assert normalise_phone("351912345678@s.whatsapp.net") is not None
    assert normalise_phone("612345678") is None  # national form, no region to read it in


def test_generated_numbers_keep_their_country() -> None:
    net = make_network(3, n_people=30)
    for p in net.people.values():
        got = normalise_phone(p.wa_jid)
        assert got is not None and got.e164 == p.phone and got.country == p.country

"""Retracting a same-day mistake, and sole proprietors (ИП) kept as organizations with the owner's
12-digit INN and an OGRNIP."""

from __future__ import annotations

from crm.parties.v1 import parties_pb2 as pb
from tests.parties.support import (
    create_org_req,
    ctx,
    d,
    inn_id,
    invalid,
    new_person,
    ogrn,
    ogrnip,
    org_inn,
    person_inn,
    today,
)


async def test_ending_an_item_on_its_first_day_retracts_it_and_keeps_its_history(parties) -> None:
    party = await new_person(parties, valid_from=d(today()))
    added = await parties.AddIdentifier(
        pb.AddIdentifierRequest(party_id=party.party_id, identifier=inn_id(person_inn()), context=ctx())
    )
    ended = await parties.EndIdentifier(
        pb.EndIdentifierRequest(party_id=party.party_id, identifier_id=added.identifier.identifier_id, context=ctx())
    )
    assert ended.party_version > added.party_version
    now = (await parties.GetParty(pb.GetPartyRequest(party_id=party.party_id))).party
    assert [i.identifier_id for i in now.identifiers] == []
    history = await parties.GetFieldHistory(
        pb.GetFieldHistoryRequest(party_id=party.party_id, field=f"identifiers/{added.identifier.identifier_id}")
    )
    assert len(history.entries) == 1 and history.entries[0].HasField("superseded_at")
    # The number is free again for another party.
    other = await new_person(parties)
    await parties.AddIdentifier(
        pb.AddIdentifierRequest(party_id=other.party_id, identifier=added.identifier, context=ctx())
    )


async def test_a_sole_proprietor_holds_the_owners_inn_and_an_ogrnip(parties) -> None:
    created = await parties.CreateParty(
        create_org_req(
            "Индивидуальный предприниматель Петров Пётр Петрович",
            form="ИП",
            identifiers=[inn_id(person_inn()), pb.Identifier(type=pb.IDENTIFIER_TYPE_OGRNIP, value=ogrnip())],
        )
    )
    kinds = sorted(pb.IdentifierType.Name(i.type) for i in created.party.identifiers)
    assert kinds == ["IDENTIFIER_TYPE_INN", "IDENTIFIER_TYPE_OGRNIP"]
    # A legal entity cannot hold them, and a sole proprietor cannot hold an OGRN.
    await invalid(
        parties.CreateParty(create_org_req("Ромашка", form="ООО", identifiers=[inn_id(person_inn())])),
        "identifiers[0].type",
    )
    await invalid(
        parties.CreateParty(
            create_org_req(
                "ИП Сидоров", form="ИП", identifiers=[pb.Identifier(type=pb.IDENTIFIER_TYPE_OGRN, value=ogrn())]
            )
        ),
        "identifiers[0].type",
    )
    legal = await parties.CreateParty(create_org_req("Ромашка", form="ООО", identifiers=[inn_id(org_inn())]))
    assert legal.party.identifiers[0].value

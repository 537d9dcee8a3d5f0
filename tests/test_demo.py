"""`crm demo` against a real parties server: the register fills with valid persons, companies,
relationships and vehicles, and a second run adds nothing."""

from __future__ import annotations

from crm.common.v1 import common_pb2
from crm.parties.v1 import parties_pb2 as pb
from crmctl.demo import load_demo


async def test_demo_loads_realistic_data_and_is_repeatable(parties_server, parties) -> None:
    summary = await load_demo(parties_server, count=300, seed=7, concurrency=16)
    assert "errors" not in summary, summary
    import re

    persons, orgs = map(int, re.search(r"(\d+) persons, (\d+) organizations", summary).groups())
    assert persons + orgs == 300 and persons > orgs > 0, summary
    found = await parties.SearchParties(pb.SearchPartiesRequest(page=common_pb2.PageRequest(page_size=100)))
    assert len(found.hits) == 100
    with_vehicle = with_relation = 0
    for hit in found.hits:
        card = (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=hit.party.party_id))).card
        with_vehicle += bool(card.vehicles)
        with_relation += bool(card.relationships)
        assert card.party.identifiers or card.party.kind == pb.PARTY_KIND_PERSON
    assert with_vehicle and with_relation
    again = await load_demo(parties_server, count=300, seed=7, concurrency=16)
    assert "errors" not in again, again
    changes = await parties.ListChanges(pb.ListChangesRequest(limit=1000))
    created = [c for c in changes.changes if c.change_type == "party.created"]
    assert len(created) == 300, "the second run must not create anything"

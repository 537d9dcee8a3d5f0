from crm.common.v1 import common_pb2
from crm.parties.v1 import parties_pb2 as pb


async def test_create_and_get(parties):
    resp = await parties.CreateParty(
        pb.CreatePartyRequest(
            request_id="smoke-1",
            person=pb.Person(
                name=pb.PersonName(last_name="Щербаков", first_name="Юрий", patronymic="Петрович"),
                gender=pb.GENDER_MALE,
                birth_date=common_pb2.Date(year=1980, month=5, day=17),
            ),
            identifiers=[pb.Identifier(type=pb.IDENTIFIER_TYPE_INN, value="500100732259")],
            contact_points=[pb.ContactPoint(phone="8 (916) 123-45-67", primary=True)],
            role_types=["customer"],
        )
    )
    p = resp.party
    print(p)
    got = await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id))
    assert got.party.display_name == "Щербаков Юрий Петрович"
    s = await parties.SearchParties(pb.SearchPartiesRequest(query="Scherbakov Yuri"))
    print(s)
    assert s.hits

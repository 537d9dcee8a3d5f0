"""The attribute catalogue: definitions of every value type with their validation, duplicate codes,
values checked against their definition, clearing, and retirement that keeps history readable."""

from __future__ import annotations

import json

from crm.common.v1 import common_pb2
from crm.parties.v1 import parties_pb2 as pb
from tests.parties.support import already_exists, d, days_ago, invalid, new_org, new_person, today

PERSON_ORG = [pb.PARTY_KIND_PERSON, pb.PARTY_KIND_ORGANIZATION]


def definition(code: str, value_type: int, kinds=PERSON_ORG, **validation) -> pb.DefineAttributeRequest:
    return pb.DefineAttributeRequest(
        definition=pb.AttributeDefinition(
            code=code,
            name=f"Attribute {code}",
            value_type=value_type,
            applies_to=kinds,
            validation=pb.AttributeValidation(**validation),
        )
    )


def value(code: str, **kw) -> pb.AttributeValue:
    return pb.AttributeValue(code=code, **kw)


async def set_values(parties, party_id: str, *values: pb.AttributeValue, **kw) -> pb.SetAttributeValuesResponse:
    return await parties.SetAttributeValues(pb.SetAttributeValuesRequest(party_id=party_id, values=values, **kw))


async def test_define_each_type_and_set_values(parties, db):
    defs = {
        "a_text": definition("a_text", pb.ATTRIBUTE_VALUE_TYPE_TEXT, max_length=10, pattern=r"[A-Z]{2}\d+"),
        "a_number": definition("a_number", pb.ATTRIBUTE_VALUE_TYPE_NUMBER, min="-5", max="100"),
        "a_decimal": definition("a_decimal", pb.ATTRIBUTE_VALUE_TYPE_DECIMAL, min="0.00", max="99.99"),
        "a_date": definition("a_date", pb.ATTRIBUTE_VALUE_TYPE_DATE),
        "a_bool": definition("a_bool", pb.ATTRIBUTE_VALUE_TYPE_BOOL),
        "a_enum": definition("a_enum", pb.ATTRIBUTE_VALUE_TYPE_ENUM, allowed_values=["bronze", "silver", "gold"]),
    }
    for code, req in defs.items():
        resp = await parties.DefineAttribute(req)
        assert resp.definition.code == code
        assert resp.definition.status == pb.ATTRIBUTE_STATUS_ACTIVE
        assert resp.definition.HasField("created_at")
        assert resp.definition.value_type == req.definition.value_type
        assert resp.definition.validation == req.definition.validation
    before = db.counts()
    existing = await already_exists(parties.DefineAttribute(definition("a_text", pb.ATTRIBUTE_VALUE_TYPE_BOOL)))
    assert existing == "a_text"
    assert db.counts() == before
    listed = {
        x.code for x in (await parties.ListAttributeDefinitions(pb.ListAttributeDefinitionsRequest())).definitions
    }
    assert set(defs) <= listed

    p = await new_person(parties)
    resp = await set_values(
        parties,
        p.party_id,
        value("a_text", text_value="  AB123  "),
        value("a_number", number_value=-5),
        value("a_decimal", decimal_value="12.50"),
        value("a_date", date_value=d("2030-02-28")),
        value("a_bool", bool_value=False),
        value("a_enum", enum_value="gold"),
        expected_version=p.version,
    )
    assert resp.party_version == p.version + 1
    got = {a.code: a for a in (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id))).party.attributes}
    assert got["a_text"].text_value == "AB123"
    assert got["a_number"].number_value == -5
    assert got["a_decimal"].decimal_value == "12.50", "a decimal keeps its scale"
    assert got["a_date"].date_value == d("2030-02-28")
    assert got["a_bool"].WhichOneof("value") == "bool_value" and not got["a_bool"].bool_value
    assert got["a_enum"].enum_value == "gold"

    before = db.counts()
    bad = [
        (value("a_text", text_value="AB12345678901"), "values[0].text_value"),  # too long
        (value("a_text", text_value="ab1"), "values[0].text_value"),  # pattern
        (value("a_number", number_value=101), "values[0].number_value"),
        (value("a_number", number_value=-6), "values[0].number_value"),
        (value("a_decimal", decimal_value="100"), "values[0].decimal_value"),
        (value("a_decimal", decimal_value="-0.01"), "values[0].decimal_value"),
        (value("a_decimal", decimal_value="12,5"), "values[0].decimal_value"),
        (value("a_decimal", decimal_value="NaN"), "values[0].decimal_value"),
        (value("a_date", date_value=common_pb2.Date(year=2030, month=2, day=30)), "values[0].date_value"),
        (value("a_enum", enum_value="platinum"), "values[0].enum_value"),
        (value("a_enum", enum_value="Gold"), "values[0].enum_value"),
        (value("a_bool", text_value="true"), "values[0].text_value"),
        (value("a_number", decimal_value="1"), "values[0].decimal_value"),
    ]
    for v, field in bad:
        await invalid(set_values(parties, p.party_id, v), field)
    # One bad value among good ones: nothing at all is written.
    await invalid(
        set_values(parties, p.party_id, value("a_number", number_value=7), value("a_enum", enum_value="tin")),
        "values[1].enum_value",
    )
    assert db.counts() == before
    assert {a.code: a for a in (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id))).party.attributes}[
        "a_number"
    ].number_value == -5


async def test_applies_to_and_clearing(parties):
    await parties.DefineAttribute(
        definition("org_only", pb.ATTRIBUTE_VALUE_TYPE_NUMBER, kinds=[pb.PARTY_KIND_ORGANIZATION])
    )
    p = await new_person(parties)
    o = await new_org(parties)
    violations = await invalid(set_values(parties, p.party_id, value("org_only", number_value=1)), "values[0].code")
    assert "person" in violations[0][1]
    await set_values(parties, o.party_id, value("org_only", number_value=10), valid_from=d(days_ago(30)))
    # No value clears the attribute from valid_from on; the earlier value stays in its period.
    resp = await set_values(parties, o.party_id, value("org_only"), valid_from=d(today()))
    assert not resp.values[0].HasField("number_value")
    got = (await parties.GetParty(pb.GetPartyRequest(party_id=o.party_id))).party
    assert "org_only" not in [a.code for a in got.attributes]
    then = (await parties.GetParty(pb.GetPartyRequest(party_id=o.party_id, as_of=d(days_ago(1))))).party
    assert [(a.code, a.number_value) for a in then.attributes] == [("org_only", 10)]


async def test_retire_attribute_keeps_history(parties, db):
    await parties.DefineAttribute(definition("old_segment", pb.ATTRIBUTE_VALUE_TYPE_ENUM, allowed_values=["a", "b"]))
    p = await new_person(parties)
    await set_values(parties, p.party_id, value("old_segment", enum_value="a"), valid_from=d(days_ago(60)))
    await set_values(parties, p.party_id, value("old_segment", enum_value="b"), valid_from=d(days_ago(30)))
    retired = (await parties.RetireAttribute(pb.RetireAttributeRequest(code="old_segment"))).definition
    assert retired.status == pb.ATTRIBUTE_STATUS_RETIRED
    assert retired.HasField("retired_at")
    again = (await parties.RetireAttribute(pb.RetireAttributeRequest(code="old_segment"))).definition
    assert again.retired_at == retired.retired_at, "retiring twice keeps the first date"

    active = {
        x.code for x in (await parties.ListAttributeDefinitions(pb.ListAttributeDefinitionsRequest())).definitions
    }
    assert "old_segment" not in active
    everything = (
        await parties.ListAttributeDefinitions(pb.ListAttributeDefinitionsRequest(include_retired=True))
    ).definitions
    assert [x.status for x in everything if x.code == "old_segment"] == [pb.ATTRIBUTE_STATUS_RETIRED]

    history = await parties.GetFieldHistory(
        pb.GetFieldHistoryRequest(party_id=p.party_id, field="attributes.old_segment")
    )
    current = [json.loads(e.value_json) for e in history.entries if not e.HasField("superseded_at")]
    assert current == ["a", "b"]
    # The recorded value is still readable on the party.
    got = (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id))).party
    assert [(a.code, a.enum_value) for a in got.attributes] == [("old_segment", "b")]

    violations = await invalid(set_values(parties, p.party_id, value("old_segment", enum_value="a")), "values[0].code")
    assert "retired" in violations[0][1]
    other = await new_person(parties)
    before = db.counts()
    violations = await invalid(
        set_values(parties, other.party_id, value("old_segment", enum_value="a")), "values[0].code"
    )
    assert "retired" in violations[0][1]
    assert db.counts() == before
    # The code stays taken.
    await already_exists(parties.DefineAttribute(definition("old_segment", pb.ATTRIBUTE_VALUE_TYPE_TEXT)))


async def test_value_set_again_after_clearing(parties):
    await parties.DefineAttribute(definition("again_score", pb.ATTRIBUTE_VALUE_TYPE_NUMBER))
    p = await new_person(parties)
    await set_values(parties, p.party_id, value("again_score", number_value=10), valid_from=d(days_ago(30)))
    await set_values(parties, p.party_id, value("again_score"), valid_from=d(days_ago(5)))
    assert not (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id))).party.attributes
    # The same value again from a date inside its old period: it holds from then on, the clearing is undone.
    resp = await set_values(parties, p.party_id, value("again_score", number_value=10), valid_from=d(days_ago(10)))
    assert resp.values[0].number_value == 10
    got = (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id))).party
    assert [(a.code, a.number_value) for a in got.attributes] == [("again_score", 10)]

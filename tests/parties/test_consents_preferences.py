"""Consents (their history per channel and purpose) and contact preferences (do-not-contact, quiet
hours, time zone, update masks)."""

from __future__ import annotations

import json

import grpc
from google.protobuf import field_mask_pb2

from crm.parties.v1 import parties_pb2 as pb
from tests.parties.support import ctx, invalid, new_person, rpc_error


def consent(status: int, evidence: str = "", channel=pb.CHANNEL_EMAIL, purpose=pb.CONSENT_PURPOSE_MARKETING):
    return pb.Consent(channel=channel, purpose=purpose, status=status, evidence=evidence)


async def test_consent_history(parties, db):
    p = await new_person(parties, consents=[consent(pb.CONSENT_STATUS_GRANTED, "web form 1")])
    withdrawn = await parties.SetConsent(
        pb.SetConsentRequest(
            party_id=p.party_id,
            consent=consent(pb.CONSENT_STATUS_WITHDRAWN, "call 42"),
            context=ctx(actor="user:agent7", source="contact-center", reason="customer asked"),
        )
    )
    assert withdrawn.consent.status == pb.CONSENT_STATUS_WITHDRAWN
    assert withdrawn.consent.recorded.actor == "user:agent7"
    assert withdrawn.party_version == p.version + 1
    await parties.SetConsent(
        pb.SetConsentRequest(party_id=p.party_id, consent=consent(pb.CONSENT_STATUS_GRANTED, "signed form 9"))
    )
    # Another channel is a separate consent.
    await parties.SetConsent(
        pb.SetConsentRequest(party_id=p.party_id, consent=consent(pb.CONSENT_STATUS_GRANTED, channel=pb.CHANNEL_SMS))
    )
    history = await parties.GetFieldHistory(
        pb.GetFieldHistoryRequest(party_id=p.party_id, field="consents/EMAIL/MARKETING")
    )
    values = [json.loads(e.value_json) for e in history.entries]
    assert [(v["status"], v["evidence"]) for v in values] == [
        ("GRANTED", "web form 1"),
        ("WITHDRAWN", "call 42"),
        ("GRANTED", "signed form 9"),
    ]
    assert [e.HasField("superseded_at") for e in history.entries] == [True, True, False]
    assert history.entries[1].actor == "user:agent7" and history.entries[1].reason == "customer asked"

    card = (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=p.party_id))).card
    assert sorted((c.channel, c.status) for c in card.consents) == [
        (pb.CHANNEL_SMS, pb.CONSENT_STATUS_GRANTED),
        (pb.CHANNEL_EMAIL, pb.CONSENT_STATUS_GRANTED),
    ]
    # A consent never given has no history.
    await rpc_error(
        parties.GetFieldHistory(pb.GetFieldHistoryRequest(party_id=p.party_id, field="consents/POST/SERVICE")),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_contact_preferences(parties, db):
    p = await new_person(parties)
    resp = await parties.SetContactPreferences(
        pb.SetContactPreferencesRequest(
            party_id=p.party_id,
            preferences=pb.ContactPreferences(
                do_not_contact=True,
                time_zone="Asia/Almaty",
                quiet_hours=pb.QuietHours(start="21:30", end="08:00"),
                preferred_channel=pb.CHANNEL_SMS,
                preferred_language="kk",
            ),
        )
    )
    assert resp.preferences.do_not_contact
    assert resp.preferences.time_zone == "Asia/Almaty"
    assert (resp.preferences.quiet_hours.start, resp.preferences.quiet_hours.end) == ("21:30", "08:00")
    assert resp.party_version == p.version + 1

    # With a mask, only the named fields change.
    resp = await parties.SetContactPreferences(
        pb.SetContactPreferencesRequest(
            party_id=p.party_id,
            preferences=pb.ContactPreferences(do_not_contact=False, time_zone="UTC"),
            update_mask=field_mask_pb2.FieldMask(paths=["do_not_contact"]),
        )
    )
    assert not resp.preferences.do_not_contact
    assert resp.preferences.time_zone == "Asia/Almaty"
    assert resp.preferences.preferred_channel == pb.CHANNEL_SMS

    got = (await parties.GetParty(pb.GetPartyRequest(party_id=p.party_id))).party.preferences
    assert got == resp.preferences

    history = await parties.GetFieldHistory(
        pb.GetFieldHistoryRequest(party_id=p.party_id, field="preferences.do_not_contact")
    )
    assert [json.loads(e.value_json) for e in history.entries if not e.HasField("superseded_at")] == [False]
    assert True in [json.loads(e.value_json) for e in history.entries]

    # Setting the same again changes nothing (no new version).
    before = db.counts()
    same = await parties.SetContactPreferences(
        pb.SetContactPreferencesRequest(
            party_id=p.party_id,
            preferences=pb.ContactPreferences(do_not_contact=False),
            update_mask=field_mask_pb2.FieldMask(paths=["do_not_contact"]),
        )
    )
    assert same.party_version == resp.party_version
    assert db.counts() == before

    # Bad values are refused, with the field named, and change nothing.
    for prefs, field in (
        (pb.ContactPreferences(time_zone="Europe/Atlantis"), "preferences.time_zone"),
        (pb.ContactPreferences(time_zone="../../etc/passwd"), "preferences.time_zone"),
        (pb.ContactPreferences(quiet_hours=pb.QuietHours(start="22:00", end="24:00")), "preferences.quiet_hours"),
        (pb.ContactPreferences(quiet_hours=pb.QuietHours(start="22:00")), "preferences.quiet_hours"),
        (pb.ContactPreferences(quiet_hours=pb.QuietHours(start="7:00", end="09:00")), "preferences.quiet_hours"),
    ):
        await invalid(
            parties.SetContactPreferences(pb.SetContactPreferencesRequest(party_id=p.party_id, preferences=prefs)),
            field,
        )
    assert db.counts() == before

    # A time zone in any case is stored canonically; quiet hours may be cleared.
    resp = await parties.SetContactPreferences(
        pb.SetContactPreferencesRequest(
            party_id=p.party_id,
            preferences=pb.ContactPreferences(time_zone="europe/MOSCOW"),
            update_mask=field_mask_pb2.FieldMask(paths=["time_zone", "quiet_hours"]),
        )
    )
    assert resp.preferences.time_zone == "Europe/Moscow"
    assert not resp.preferences.HasField("quiet_hours")

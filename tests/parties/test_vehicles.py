"""Vehicles: registration with VIN validation, one current owner, transfers that end the previous
ownership, mileage that never rolls back, lookup by VIN, and the card's vehicle list."""

from __future__ import annotations

import asyncio

import grpc

from crm.parties.v1 import parties_pb2 as pb
from tests.parties.support import d, days_ago, invalid, new_org, new_person, rpc_error, today, vin


async def register(parties, party_id: str, number: str, **kw) -> pb.VehicleOwnership:
    vehicle = kw.pop("vehicle", None) or pb.Vehicle(vin=number, make="Lada", model="Vesta", model_year=2021)
    return (
        await parties.RegisterVehicle(pb.RegisterVehicleRequest(party_id=party_id, vehicle=vehicle, **kw))
    ).ownership


async def test_register_transfer_and_card(parties, db):
    owner = await new_person(parties)
    buyer = await new_person(parties)
    number = vin()
    spaced = f"{number[:3].lower()} {number[3:9]}-{number[9:]}"
    own = await register(
        parties,
        owner.party_id,
        "",
        vehicle=pb.Vehicle(
            vin=spaced,
            make="Lada",
            model="Vesta",
            model_year=2021,
            purchase_date=d(days_ago(200)),
            warranty_end=d("2030-01-01"),
        ),
    )
    assert own.vehicle.vin == number
    assert own.ownership_type == pb.OWNERSHIP_TYPE_OWNER
    assert own.validity.valid_from == d(days_ago(200)), "ownership starts on the purchase date by default"
    vehicle_id = own.vehicle.vehicle_id

    before = db.counts()
    await rpc_error(
        parties.RegisterVehicle(pb.RegisterVehicleRequest(party_id=buyer.party_id, vehicle=pb.Vehicle(vin=number))),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert db.counts() == before
    # A driver is another kind of ownership: allowed next to the owner.
    driver = await register(parties, buyer.party_id, number, ownership_type=pb.OWNERSHIP_TYPE_DRIVER)
    assert driver.vehicle.vehicle_id == vehicle_id

    card = (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=owner.party_id))).card
    assert [(v.vehicle.vin, v.ownership_type) for v in card.vehicles] == [(number, pb.OWNERSHIP_TYPE_OWNER)]
    assert card.vehicles[0].vehicle.make == "Lada"

    transferred = (
        await parties.TransferVehicle(
            pb.TransferVehicleRequest(vehicle_id=vehicle_id, to_party_id=buyer.party_id, transfer_date=d(days_ago(10)))
        )
    ).ownership
    assert transferred.party_id == buyer.party_id
    assert transferred.validity.valid_from == d(days_ago(10))
    await rpc_error(
        parties.TransferVehicle(pb.TransferVehicleRequest(vehicle_id=vehicle_id, to_party_id=buyer.party_id)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )

    got = await parties.GetVehicle(pb.GetVehicleRequest(vin=number.lower()))
    assert got.vehicle.vehicle_id == vehicle_id
    owners = [(o.party_id, o.ownership_type, o.validity.HasField("valid_to")) for o in got.ownerships]
    assert (owner.party_id, pb.OWNERSHIP_TYPE_OWNER, True) in owners
    assert (buyer.party_id, pb.OWNERSHIP_TYPE_OWNER, False) in owners
    assert (buyer.party_id, pb.OWNERSHIP_TYPE_DRIVER, False) in owners
    ended = next(o for o in got.ownerships if o.party_id == owner.party_id)
    assert ended.validity.valid_to == d(days_ago(10))

    old_card = (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=owner.party_id))).card
    assert not old_card.vehicles
    then = (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=owner.party_id, as_of=d(days_ago(11))))).card
    assert [v.vehicle.vin for v in then.vehicles] == [number]
    new_card = (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=buyer.party_id))).card
    assert sorted(v.ownership_type for v in new_card.vehicles) == [pb.OWNERSHIP_TYPE_OWNER, pb.OWNERSHIP_TYPE_DRIVER]

    # Both parties' change feeds show the transfer.
    changes = (await parties.ListChanges(pb.ListChangesRequest(party_ids=[owner.party_id, buyer.party_id]))).changes
    types = [(c.party_id, c.change_type) for c in changes]
    assert (owner.party_id, "vehicle.transferred_out") in types
    assert (buyer.party_id, "vehicle.transferred_in") in types

    # After the transfer the VIN can be registered to nobody else as owner, but lessees are fine.
    org = await new_org(parties, "Лизинг")
    lease = await register(parties, org.party_id, number, ownership_type=pb.OWNERSHIP_TYPE_LESSEE)
    assert lease.ownership_type == pb.OWNERSHIP_TYPE_LESSEE


async def test_mileage(parties, db):
    p = await new_person(parties)
    own = await register(parties, p.party_id, vin())
    vehicle_id = own.vehicle.vehicle_id
    await parties.RecordMileage(
        pb.RecordMileageRequest(vehicle_id=vehicle_id, kilometres=10_000, read_on=d(days_ago(100)))
    )
    await parties.RecordMileage(
        pb.RecordMileageRequest(vehicle_id=vehicle_id, kilometres=15_000, read_on=d(days_ago(50)))
    )
    # A reading between two others must lie between them.
    resp = await parties.RecordMileage(
        pb.RecordMileageRequest(vehicle_id=vehicle_id, kilometres=12_000, read_on=d(days_ago(70)))
    )
    assert [m.kilometres for m in resp.vehicle.mileage] == [10_000, 12_000, 15_000]
    before = db.counts()
    violations = await invalid(
        parties.RecordMileage(pb.RecordMileageRequest(vehicle_id=vehicle_id, kilometres=14_000, read_on=d(today()))),
        "kilometres",
    )
    assert "rollback" in violations[0][1]
    await invalid(
        parties.RecordMileage(
            pb.RecordMileageRequest(vehicle_id=vehicle_id, kilometres=16_000, read_on=d(days_ago(60)))
        ),
        "kilometres",
    )
    assert db.counts() == before
    resp = await parties.RecordMileage(pb.RecordMileageRequest(vehicle_id=vehicle_id, kilometres=15_000))
    assert resp.vehicle.mileage[-1].read_on == d(today())
    got = await parties.GetVehicle(pb.GetVehicleRequest(vehicle_id=vehicle_id))
    assert [m.kilometres for m in got.vehicle.mileage] == [10_000, 12_000, 15_000, 15_000]
    card = (await parties.GetPartyCard(pb.GetPartyCardRequest(party_id=p.party_id))).card
    assert [m.kilometres for m in card.vehicles[0].vehicle.mileage] == [10_000, 12_000, 15_000, 15_000]


async def test_unknown_vin_and_european_vin(parties):
    await rpc_error(parties.GetVehicle(pb.GetVehicleRequest(vin=vin())), grpc.StatusCode.NOT_FOUND)
    # European and Russian VINs carry no check digit in position 9.
    p = await new_person(parties)
    own = await register(parties, p.party_id, "XTA21214011234567")
    assert own.vehicle.vin == "XTA21214011234567"
    # Mileage readings are recorded with RecordMileage, not on registration.
    await invalid(
        parties.RegisterVehicle(
            pb.RegisterVehicleRequest(
                party_id=p.party_id, vehicle=pb.Vehicle(vin=vin(), mileage=[pb.MileageReading(kilometres=5)])
            )
        ),
        "vehicle.mileage",
    )


async def test_concurrent_registrations_of_a_new_vin(parties, db):
    number = vin()
    owners = [await new_person(parties) for _ in range(3)]
    results = await asyncio.gather(
        *(
            parties.RegisterVehicle(pb.RegisterVehicleRequest(party_id=o.party_id, vehicle=pb.Vehicle(vin=number)))
            for o in owners
        ),
        return_exceptions=True,
    )
    ok = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(ok) == 1, results
    for err in refused:
        assert isinstance(err, grpc.aio.AioRpcError) and err.code() == grpc.StatusCode.FAILED_PRECONDITION, err
    assert db.scalar(f"SELECT count(*) FROM parties.vehicle WHERE vin = '{number}'") == 1
    got = await parties.GetVehicle(pb.GetVehicleRequest(vin=number))
    assert [o.party_id for o in got.ownerships] == [ok[0].ownership.party_id]

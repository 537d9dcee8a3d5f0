"""Vehicles and who owns or drives them over time; mileage readings feed the retention programme."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from crm.parties.v1 import parties_pb2 as pb
from crm_runtime.errors import FailedPrecondition, InvalidArgument, NotFound, Violations
from services.parties import convert, validation
from services.parties.app.base import today
from services.parties.app.items import ItemsMixin
from services.parties.app.parties import validation_violation
from services.parties.domain import text, vin
from services.parties.domain.errors import DomainValueError
from services.parties.store.repository import PartiesRepository
from services.parties.store.rows import ItemRow


class AssetsMixin(ItemsMixin):
    def _vehicle_fields(self, vehicle: pb.Vehicle, v: Violations) -> dict[str, Any]:
        out: dict[str, Any] = {}
        try:
            out["vin"] = vin.normalize_vin(vehicle.vin)
        except DomainValueError as exc:
            v.add("vehicle.vin", str(exc))
        for name, limit in (("make", 100), ("model", 100)):
            try:
                out[name] = text.clean_text(getattr(vehicle, name), max_length=limit)
            except DomainValueError as exc:
                v.add(f"vehicle.{name}", str(exc))
        year = vehicle.model_year
        if year and not 1950 <= year <= today().year + 2:
            v.add("vehicle.model_year", f"must be between 1950 and {today().year + 2}")
        out["model_year"] = year or None
        out["purchase_date"] = validation.day(vehicle.purchase_date, v, "vehicle.purchase_date")
        out["warranty_end"] = validation.day(vehicle.warranty_end, v, "vehicle.warranty_end")
        if out["purchase_date"] and out["warranty_end"] and out["warranty_end"] < out["purchase_date"]:
            v.add("vehicle.warranty_end", "cannot be before the purchase date")
        if vehicle.mileage:
            v.add("vehicle.mileage", "record readings with RecordMileage")
        return out

    async def _vehicle_message(self, repo: PartiesRepository, vehicle_id: UUID) -> pb.Vehicle:
        row = await repo.vehicle(vehicle_id)
        return convert.vehicle_pb(row, (await repo.mileage([vehicle_id])).get(vehicle_id, []))

    async def register_vehicle(self, req: pb.RegisterVehicleRequest) -> pb.RegisterVehicleResponse:
        v = Violations()
        who, pid = self._common(req, v)
        fields = self._vehicle_fields(req.vehicle, v)
        ownership = _ownership_type(req.ownership_type, v)
        valid_from = validation.day(req.valid_from, v, "valid_from", default=fields.get("purchase_date") or today())
        v.raise_if_any()
        assert valid_from is not None
        async with self.tx() as repo:
            await self.lock_for_change(repo, pid, 0)
            existing = await repo.vehicle_by_vin(fields["vin"])
            if existing is not None:
                vehicle_id = existing[0]
            else:
                # The id of the vehicle with this VIN, also when a concurrent call inserted it first.
                vehicle_id = await repo.insert_vehicle({"vehicle_id": uuid.uuid4(), **fields})
            await repo.vehicle(vehicle_id, lock=True)
            owners = [o for o in await repo.current_ownerships(vehicle_id) if o.valid_to is None]
            if any(o.data.get("ownership_type") == ownership for o in owners):
                holder = next(o.party_id for o in owners if o.data.get("ownership_type") == ownership)
                raise FailedPrecondition(
                    f"vehicle {fields['vin']} already has a current {ownership.lower()} (party {holder}); "
                    "use TransferVehicle"
                )
            item = validation.NewItem("ownership", str(vehicle_id), fields["vin"], {"ownership_type": ownership})
            row, _version = await self._add_item(repo, pid, item, valid_from, who, "vehicle.registered")
            vehicle = await self._vehicle_message(repo, vehicle_id)
        return pb.RegisterVehicleResponse(ownership=convert.ownership_pb(row, vehicle))

    async def transfer_vehicle(self, req: pb.TransferVehicleRequest) -> pb.TransferVehicleResponse:
        v = Violations()
        who = validation.context(req.context, v)
        vehicle_id = validation.party_id(req.vehicle_id, v, "vehicle_id")
        to_party = validation.party_id(req.to_party_id, v, "to_party_id")
        ownership = _ownership_type(req.ownership_type, v)
        on = validation.day(req.transfer_date, v, "transfer_date", default=today()) or today()
        v.raise_if_any()
        assert vehicle_id is not None and to_party is not None
        async with self.tx() as repo:
            vehicle = await repo.vehicle(vehicle_id, lock=True)
            if vehicle is None:
                raise NotFound(f"vehicle {vehicle_id} not found")
            await self.lock_for_change(repo, to_party, 0)
            for current in await repo.current_ownerships(vehicle_id):
                if current.data.get("ownership_type") != ownership or current.valid_to is not None:
                    continue
                if current.party_id == to_party:
                    raise FailedPrecondition("the vehicle already belongs to this party")
                if on <= current.valid_from:
                    raise InvalidArgument(
                        [
                            validation_violation(
                                "transfer_date", f"must be after the current ownership began ({current.valid_from})"
                            )
                        ]
                    )
                await self._end_item(
                    repo, current.party_id, "ownership", current.item_id, on, who, "vehicle.transferred_out"
                )
            item = validation.NewItem("ownership", str(vehicle_id), vehicle[1], {"ownership_type": ownership})
            row, _ = await self._add_item(repo, to_party, item, on, who, "vehicle.transferred_in")
            message = await self._vehicle_message(repo, vehicle_id)
        return pb.TransferVehicleResponse(ownership=convert.ownership_pb(row, message))

    async def record_mileage(self, req: pb.RecordMileageRequest) -> pb.RecordMileageResponse:
        v = Violations()
        who = validation.context(req.context, v)
        vehicle_id = validation.party_id(req.vehicle_id, v, "vehicle_id")
        if req.kilometres < 0 or req.kilometres > 5_000_000:
            v.add("kilometres", "must be between 0 and 5,000,000")
        read_on = validation.day(req.read_on, v, "read_on", default=today()) or today()
        if read_on > today():
            v.add("read_on", "cannot be in the future")
        v.raise_if_any()
        assert vehicle_id is not None
        async with self.tx() as repo:
            if await repo.vehicle(vehicle_id, lock=True) is None:
                raise NotFound(f"vehicle {vehicle_id} not found")
            readings = (await repo.mileage([vehicle_id])).get(vehicle_id, [])
            earlier = [r for r in readings if r[2] <= read_on]
            later = [r for r in readings if r[2] > read_on]
            if earlier and max(r[1] for r in earlier) > req.kilometres:
                v.add(
                    "kilometres", f"is below an earlier reading ({max(r[1] for r in earlier)} km): odometer rollback?"
                )
            if later and min(r[1] for r in later) < req.kilometres:
                v.add("kilometres", f"is above a later reading ({min(r[1] for r in later)} km)")
            v.raise_if_any()
            await repo.insert_mileage(vehicle_id, req.kilometres, read_on, who)
            message = await self._vehicle_message(repo, vehicle_id)
        return pb.RecordMileageResponse(vehicle=message)

    async def get_vehicle(self, req: pb.GetVehicleRequest) -> pb.GetVehicleResponse:
        v = Violations()
        which = req.WhichOneof("key")
        vehicle_id = None
        normalized = ""
        if which == "vehicle_id":
            vehicle_id = validation.party_id(req.vehicle_id, v, "vehicle_id")
        elif which == "vin":
            try:
                normalized = vin.normalize_vin(req.vin)
            except DomainValueError as exc:
                v.add("vin", str(exc))
        else:
            v.add("key", "vehicle_id or vin is required")
        v.raise_if_any()
        async with self.tx() as repo:
            row = await (repo.vehicle(vehicle_id) if vehicle_id else repo.vehicle_by_vin(normalized))
            if row is None:
                raise NotFound(f"vehicle {req.vehicle_id or req.vin} not found")
            message = await self._vehicle_message(repo, row[0])
            ownerships: list[ItemRow] = await repo.current_ownerships(row[0])
        return pb.GetVehicleResponse(
            vehicle=message,
            ownerships=[convert.ownership_pb(o, pb.Vehicle(vehicle_id=str(row[0]), vin=row[1])) for o in ownerships],
        )


def _ownership_type(value: int, v: Violations) -> str:
    """OWNER when unset; an unknown number is refused rather than read as OWNER."""
    name = convert.enum_name(pb.OwnershipType, value, "OWNERSHIP_TYPE_")
    if value and not name:
        v.add("ownership_type", f"unknown value {value}")
    return name or "OWNER"

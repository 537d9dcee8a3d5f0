"""REST shapes of vehicles and who owns, leases or drives them."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from gateway.models.common import Day, Input, Int, Output, OwnershipType, RecordInfo, Str, Validity


class VehicleIn(Input):
    vin: Str = Field(description="17-character VIN (ISO 3779).")
    make: Str = ""
    model: Str = ""
    model_year: Int = 0
    purchase_date: Day | None = None
    warranty_end: Day | None = None


class VehicleRegistration(Input):
    vehicle: VehicleIn
    ownership_type: OwnershipType | None = Field(None, description="Defaults to owner.")
    valid_from: Day | None = None


class VehicleTransfer(Input):
    to_party_id: Str
    ownership_type: OwnershipType | None = None
    transfer_date: Day | None = Field(None, description="The day the new owner takes over; defaults to today.")


class MileageIn(Input):
    kilometres: Int
    read_on: Day | None = None


class MileageReading(Output):
    kilometres: int
    read_on: date | None = None
    recorded: RecordInfo | None = None


class Vehicle(Output):
    vehicle_id: str
    vin: str
    make: str = ""
    model: str = ""
    model_year: int = 0
    purchase_date: date | None = None
    warranty_end: date | None = None
    mileage: list[MileageReading] = Field(default_factory=list)


class VehicleOwnership(Output):
    ownership_id: str
    party_id: str
    ownership_type: OwnershipType | None = None
    vehicle: Vehicle | None = None
    validity: Validity | None = None
    recorded: RecordInfo | None = None


class VehicleDetails(Output):
    vehicle: Vehicle
    ownerships: list[VehicleOwnership]

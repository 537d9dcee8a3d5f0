"""REST shapes of merges, duplicate checks and the data stewards' review cases."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from gateway.models.common import (
    DuplicateCaseResolution,
    DuplicateCaseStatus,
    DuplicateDecision,
    Input,
    MergeSide,
    MergeState,
    Output,
    Str,
    SurvivorshipRule,
)
from gateway.models.parties import Party


class FieldChoice(Input):
    field: Str = Field(description='A profile field, e.g. "person.birth_date".')
    take: MergeSide


class MergeOptions(Input):
    default_rule: SurvivorshipRule | None = Field(None, description="How fields you do not choose are decided.")
    field_choices: list[FieldChoice] = Field(default_factory=list, max_length=200)
    trusted_sources: list[Str] = Field(
        default_factory=list, max_length=50, description="For most_trusted_source: sources, most trusted first."
    )


class MergeIn(MergeOptions):
    merged_party_id: Str = Field(description="The duplicate that becomes a tombstone pointing at this party.")


class UnmergeIn(Input):
    reason: Str = Field("", max_length=1000)


class NotDuplicateIn(Input):
    other_party_id: Str


class FieldDecision(Output):
    field: str
    taken_from: MergeSide | None = None
    rule: str = ""


class Merge(Output):
    merge_id: str
    survivor_party_id: str
    merged_party_id: str
    state: MergeState | None = None
    decisions: list[FieldDecision] = Field(default_factory=list)
    moved: dict[str, int] = Field(default_factory=dict)
    merged_at: datetime | None = None
    merged_by: str = ""
    reason: str = ""
    unmerged_at: datetime | None = None
    unmerged_by: str = ""
    unmerge_reason: str = ""


class MergeResult(Output):
    merge: Merge
    survivor: Party


class UnmergeResult(Output):
    merge: Merge
    survivor: Party
    restored: Party


class Merges(Output):
    merges: list[Merge] = Field(default_factory=list)


class FieldComparison(Output):
    field: str
    level: str
    weight: float = 0.0


class DuplicateMatch(Output):
    party_id: str
    other_party_id: str
    score: float = 0.0
    probability: float = 0.0
    decision: DuplicateDecision | None = None
    comparisons: list[FieldComparison] = Field(default_factory=list)


class DuplicateCheck(Output):
    decision: DuplicateDecision | None = None
    matches: list[DuplicateMatch] = Field(default_factory=list)
    candidates_compared: int = 0
    oversized_blocks: list[str] = Field(default_factory=list)


class DuplicateCase(Output):
    case_id: str
    party_id: str
    other_party_id: str
    match: DuplicateMatch | None = None
    status: DuplicateCaseStatus | None = None
    workflow_id: str = Field("", description="The Temporal workflow following the case (find it in the UI).")
    opened_at: datetime | None = None
    reminded_at: datetime | None = None
    escalated_at: datetime | None = None
    decided_at: datetime | None = None
    decided_by: str = ""
    decision_note: str = ""
    merge_id: str = ""


class DuplicateCasesPage(Output):
    cases: list[DuplicateCase] = Field(default_factory=list)
    next_page_token: str = ""
    total: int = 0


class DuplicateCaseView(Output):
    """A case with both parties side by side, as a steward compares them."""

    case: DuplicateCase
    party: Party
    other_party: Party


class DecisionIn(MergeOptions):
    resolution: DuplicateCaseResolution
    survivor_party_id: Str = Field("", description="For merge: which of the two parties survives.")
    note: Str = Field("", max_length=1000, description="Why (kept with the case and the merge).")

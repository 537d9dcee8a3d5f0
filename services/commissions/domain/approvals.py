"""Who approves a participant's plan document and who handles their disputes, from the position
hierarchy in effect.

The approval chain: the participant's manager (the holder of their position's manager position on the
period's first day; escalation to that manager's own manager), finance (the finance team; escalation to
an admin), a director when the document's target incentive is above the threshold (the holder of the
top position above the participant; the director role when that position is vacant or is the
participant's own), and last the participant, who signs. People are participant ids; teams are
``role:<name>`` (anyone with that role in the gateway may decide).

A dispute goes first to the participant's manager on the disputed period's last day (escalation: the
manager's manager), else straight to the compensation team.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from services.commissions.domain.org import Organisation
from services.commissions.domain.plan_documents import PlanDocumentTerms

FINANCE = "role:finance"
ADMIN = "role:admin"
DIRECTOR = "role:director"
COMPENSATION = "role:compensation"


@dataclass(frozen=True)
class ChainStep:
    step: str
    assignee: str
    escalation_assignee: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"step": self.step, "assignee": self.assignee, "escalation_assignee": self.escalation_assignee}


def _manager_of(org: Organisation, position_id: str, day: date) -> tuple[str | None, str | None]:
    """The manager position of a position and its holder on ``day``."""
    manager_pos = org.manager_as_of(position_id, day)
    return manager_pos, (org.holder_as_of(manager_pos, day) if manager_pos else None)


def approval_chain(org: Organisation, terms: PlanDocumentTerms, director_threshold: Decimal) -> tuple[ChainStep, ...]:
    day = terms.effective_on
    position = terms.position
    steps: list[ChainStep] = []
    manager = position.manager_participant_id
    if manager and manager != terms.participant_id:
        escalation = None
        if position.manager_position_id:
            _, escalation = _manager_of(org, position.manager_position_id, day)
        steps.append(ChainStep("manager", manager, escalation or COMPENSATION))
    steps.append(ChainStep("finance", FINANCE, ADMIN))
    if terms.target_incentive is not None and terms.target_incentive > director_threshold:
        above = org.chain(position.position_id, day)
        top = org.holder_as_of(above[-1], day) if above else None
        director = top if top and top != terms.participant_id else DIRECTOR
        steps.append(ChainStep("director", director, ADMIN))
    steps.append(ChainStep("participant", terms.participant_id))
    return tuple(steps)


def dispute_handlers(org: Organisation, participant_id: str, day: date) -> tuple[str, str]:
    """(assignee of a new dispute, its escalation) for a participant on ``day``."""
    for a in org.assignments_by_participant.get(participant_id, ()):
        if org.holder_as_of(a.position_id, day) != participant_id:
            continue
        manager_pos, manager = _manager_of(org, a.position_id, day)
        if manager and manager != participant_id:
            _, escalation = _manager_of(org, manager_pos, day) if manager_pos else (None, None)
            return manager, escalation or COMPENSATION
    return COMPENSATION, FINANCE

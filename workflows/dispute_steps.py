"""The rules of a commission dispute, apart from Temporal: who may do what at which status.

    open (manager) --approve--> approved (compensation team) --resolve--> resolved
       |  \\--reject--> rejected                     \\--reject--> rejected
       \\--request_info--> info_requested (participant) --provide_info--> open

The participant may withdraw while the dispute is not closed. After the second SLA a step is escalated
and the escalation assignee (the manager's manager; finance for the compensation team) may decide too.
A resolution names the adjustment: a positive amount is paid, a negative one is an overpayment and must
say what kind (only calculation errors are recovered, Labour Code art. 137).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

ROLE_PREFIX = "role:"
CLOSED = ("resolved", "rejected", "withdrawn")
ACTIONS = {
    "open": ("approve", "reject", "request_info"),
    "info_requested": ("provide_info",),
    "approved": ("resolve", "reject"),
}
OVERPAYMENT_CLASSES = ("CALCULATION_ERROR", "EMPLOYEE_FAULT", "OTHER")
MAX_ADJUSTMENT_MINOR = 10**13


class DisputeRefused(ValueError):
    """A decision that cannot apply now; the message says why."""


@dataclass(frozen=True)
class DisputeDecision:
    action: str
    actor: str
    roles: tuple[str, ...] = ()
    comment: str = ""
    amount_minor: int = 0
    overpayment_class: str = ""

    @staticmethod
    def of(data: dict[str, Any]) -> DisputeDecision:
        return DisputeDecision(
            action=str(data.get("action", "")),
            actor=str(data.get("actor", "")),
            roles=tuple(str(r) for r in data.get("roles", ())),
            comment=str(data.get("comment", "")).strip(),
            amount_minor=int(data.get("amount_minor", 0)),
            overpayment_class=str(data.get("overpayment_class", "")),
        )


@dataclass(frozen=True)
class DisputeState:
    participant_id: str
    manager: str  # a participant id, or role:compensation when the participant has no manager
    manager_escalation: str
    compensation: str = "role:compensation"
    compensation_escalation: str = "role:finance"
    status: str = "open"
    escalated: bool = False

    @property
    def closed(self) -> bool:
        return self.status in CLOSED

    @property
    def assignee(self) -> str:
        return {
            "open": self.manager,
            "info_requested": self.participant_id,
            "approved": self.compensation,
        }.get(self.status, "")

    @property
    def escalation_assignee(self) -> str:
        return {"open": self.manager_escalation, "approved": self.compensation_escalation}.get(self.status, "")

    def _may(self, who: str, decision: DisputeDecision) -> bool:
        if not who:
            return False
        if who.startswith(ROLE_PREFIX):
            return who.removeprefix(ROLE_PREFIX) in decision.roles
        return who == decision.actor

    def check(self, decision: DisputeDecision) -> None:
        if not decision.actor:
            raise DisputeRefused("the deciding person must be named (actor)")
        if self.closed:
            raise DisputeRefused(f"the dispute is closed ({self.status})")
        if decision.action == "withdraw":
            if decision.actor != self.participant_id:
                raise DisputeRefused("only the participant who opened the dispute may withdraw it")
            return
        allowed = ACTIONS[self.status]
        if decision.action not in allowed:
            raise DisputeRefused(f"while the dispute is {self.status} the actions are: {', '.join(allowed)}")
        if not (
            self._may(self.assignee, decision) or (self.escalated and self._may(self.escalation_assignee, decision))
        ):
            raise DisputeRefused(f"the dispute is {self.assignee}'s to decide now, not {decision.actor}'s")
        if decision.action in ("reject", "request_info", "provide_info") and not decision.comment:
            raise DisputeRefused(f"{decision.action} needs a comment")
        if decision.action == "resolve":
            if decision.amount_minor == 0:
                raise DisputeRefused("a resolution names its adjustment: a non-zero amount")
            if abs(decision.amount_minor) > MAX_ADJUSTMENT_MINOR:
                raise DisputeRefused("the adjustment is implausibly large")
            if decision.amount_minor < 0 and decision.overpayment_class not in OVERPAYMENT_CLASSES:
                raise DisputeRefused("a negative adjustment is an overpayment: classify it")

    def apply(self, decision: DisputeDecision) -> DisputeState:
        status = {
            "approve": "approved",
            "reject": "rejected",
            "request_info": "info_requested",
            "provide_info": "open",
            "resolve": "resolved",
            "withdraw": "withdrawn",
        }[decision.action]
        return replace(self, status=status, escalated=False)

    def escalate(self) -> DisputeState:
        return replace(self, escalated=True)

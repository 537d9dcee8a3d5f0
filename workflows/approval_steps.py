"""The rules of a plan document's approval, apart from Temporal: who may do what at which step.

The chain is computed by the commissions service when the document is submitted (the manager from the
position hierarchy in effect, finance, a director when the target incentive is above the threshold)
and ends with the participant, who signs. A return or a rejection at any step sends the document back
to its author with the comment; the author resubmits a new version (the chain starts again) or
withdraws. After the second SLA a step is *escalated*: the assignee's manager may decide it too.

`ApprovalState.check` is what the workflow's update validator calls: it refuses, with a reason a person
can act on, a decision that is not this actor's to make now (another person's step, an action that does
not exist at this step, a stale version). `ApprovalState.apply` is the transition once the decision
has been recorded. Both are pure so they are tested without a server and replay deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

PARTICIPANT_STEP = "participant"
REVISION_STEP = "revision"
APPROVER_ACTIONS = ("approve", "return", "reject")
PARTICIPANT_ACTIONS = ("accept", "reject")
AUTHOR_ACTIONS = ("withdraw", "resubmit")
COMMENT_REQUIRED = ("return", "reject")
ROLE_PREFIX = "role:"


class DecisionRefused(ValueError):
    """A decision that cannot apply now; the message says why."""


@dataclass(frozen=True)
class Step:
    step: str
    assignee: str
    escalation_assignee: str = ""

    @staticmethod
    def of(data: dict[str, Any]) -> Step:
        return Step(str(data["step"]), str(data["assignee"]), str(data.get("escalation_assignee", "")))


@dataclass(frozen=True)
class Decision:
    action: str
    actor: str
    version: int
    roles: tuple[str, ...] = ()
    comment: str = ""

    @staticmethod
    def of(data: dict[str, Any]) -> Decision:
        return Decision(
            action=str(data.get("action", "")),
            actor=str(data.get("actor", "")),
            version=int(data.get("version", 0)),
            roles=tuple(str(r) for r in data.get("roles", ())),
            comment=str(data.get("comment", "")).strip(),
        )


@dataclass(frozen=True)
class ApprovalState:
    """Where an approval stands. ``index`` points into ``chain``; ``status`` is one of in_approval,
    distributed (waiting for the participant), returned (with the author), accepted, withdrawn."""

    author: str
    version: int
    chain: tuple[Step, ...]
    index: int = 0
    status: str = "in_approval"
    escalated: bool = False
    comment: str = ""
    trail: tuple[str, ...] = field(default=())

    @property
    def closed(self) -> bool:
        return self.status in ("accepted", "withdrawn")

    @property
    def current(self) -> Step | None:
        if self.closed:
            return None
        if self.status == "returned":
            return Step(REVISION_STEP, self.author)
        return self.chain[self.index]

    @property
    def current_step(self) -> str:
        step = self.current
        return "" if step is None else step.step

    def may_decide(self, step: Step, decision: Decision) -> bool:
        """The assignee (a person, or anyone holding the role for ``role:`` assignees), or after the
        escalation the assignee's manager."""
        candidates = [step.assignee] + (
            [step.escalation_assignee] if self.escalated and step.escalation_assignee else []
        )
        for who in candidates:
            if who.startswith(ROLE_PREFIX):
                if who.removeprefix(ROLE_PREFIX) in decision.roles:
                    return True
            elif who == decision.actor:
                return True
        return False

    def check(self, decision: Decision, *, new_version: int | None = None) -> None:
        if not decision.actor:
            raise DecisionRefused("the deciding person must be named (actor)")
        if self.closed:
            raise DecisionRefused(f"the approval is closed ({self.status})")
        if decision.action in COMMENT_REQUIRED and not decision.comment:
            raise DecisionRefused(f"a {decision.action} needs a comment for the author")
        if decision.action == "withdraw":
            if decision.actor != self.author:
                raise DecisionRefused(f"only the author ({self.author}) may withdraw the document")
            return
        if decision.action == "resubmit":
            if decision.actor != self.author:
                raise DecisionRefused(f"only the author ({self.author}) may resubmit the document")
            if self.status != "returned":
                raise DecisionRefused("only a returned document can be resubmitted")
            if new_version is None or new_version <= self.version:
                raise DecisionRefused(f"a resubmission needs a version newer than {self.version}")
            return
        if decision.version != self.version:
            raise DecisionRefused(
                f"the decision is about version {decision.version}; version {self.version} is current"
            )
        step = self.current
        assert step is not None
        if self.status == "returned":
            raise DecisionRefused(f"the document is with its author ({self.author}) for revision")
        allowed = PARTICIPANT_ACTIONS if step.step == PARTICIPANT_STEP else APPROVER_ACTIONS
        if decision.action not in allowed:
            raise DecisionRefused(f"at the {step.step} step the actions are: {', '.join(allowed)}")
        if not self.may_decide(step, decision):
            also = f"; after an escalation also {step.escalation_assignee}" if step.escalation_assignee else ""
            raise DecisionRefused(
                f"the {step.step} step is for {step.assignee} to decide{also}, not for {decision.actor}"
            )

    def apply(self, decision: Decision, *, new_version: int | None = None) -> ApprovalState:
        """The state after a checked decision."""
        trail = (*self.trail, f"{decision.action}:{decision.actor}")
        if decision.action == "withdraw":
            return replace(self, status="withdrawn", trail=trail)
        if decision.action == "resubmit":
            assert new_version is not None
            return replace(
                self, version=new_version, index=0, status="in_approval", escalated=False, comment="", trail=trail
            )
        if decision.action in ("return", "reject"):
            return replace(self, status="returned", escalated=False, comment=decision.comment, trail=trail)
        if decision.action == "accept":
            return replace(self, status="accepted", trail=trail)
        nxt = self.index + 1
        status = "distributed" if self.chain[nxt].step == PARTICIPANT_STEP else "in_approval"
        return replace(self, index=nxt, status=status, escalated=False, trail=trail)

    def escalate(self) -> ApprovalState:
        return replace(self, escalated=True)


def build_chain(steps: list[dict[str, Any]]) -> tuple[Step, ...]:
    chain = tuple(Step.of(s) for s in steps)
    if not chain or chain[-1].step != PARTICIPANT_STEP:
        raise ValueError("an approval chain ends with the participant's signature")
    return chain

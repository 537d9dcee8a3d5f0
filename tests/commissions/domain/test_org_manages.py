"""Who manages whom in a period: the check behind a manager's view of their team's figures."""

from __future__ import annotations

from datetime import date

from services.commissions.domain.org import Assignment, Organisation, PositionVersion

JAN = date(2026, 1, 1)
MAR, MID_MAR, APR = date(2026, 3, 1), date(2026, 3, 16), date(2026, 4, 1)

ORG = Organisation(
    positions=(
        PositionVersion("D1", "DIR", None, JAN),
        PositionVersion("M1", "MGR", "D1", JAN),
        PositionVersion("M2", "MGR", "D1", JAN),
        # R1 reports to M1 until mid-March, then to M2
        PositionVersion("R1", "REP", "M1", JAN, MID_MAR),
        PositionVersion("R1", "REP", "M2", MID_MAR),
    ),
    assignments=(
        Assignment("dora", "D1", JAN),
        Assignment("max", "M1", JAN),
        Assignment("mia", "M2", JAN, MAR),  # mia leaves M2 at the end of February
        Assignment("rob", "R1", JAN),
    ),
)


def test_a_manager_is_anyone_above_on_some_day_of_the_period() -> None:
    assert ORG.manages("max", "rob", MAR, APR)  # first half of March
    assert not ORG.manages("max", "rob", APR, date(2026, 5, 1))  # R1 moved under M2
    assert ORG.manages("dora", "rob", APR, date(2026, 5, 1))  # two levels up, either way
    assert not ORG.manages("mia", "rob", MAR, APR)  # she left M2 before R1 came under it
    assert not ORG.manages("rob", "max", MAR, APR)
    assert not ORG.manages("max", "max", MAR, APR)
    assert not ORG.manages("max", "nobody", MAR, APR)

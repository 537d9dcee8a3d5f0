"""Calculation periods (calendar months) and the period-to-date windows measures accumulate over.

Runs are monthly. A measurement sums credits *booked* in its window: the period itself, the quarter
to date or the year to date (calendar quarters and years). Periods are plain values with an integer
`index` (year x 12 + month - 1) so that the engine can compare them as integers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

_PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})")
EPOCH = date(1970, 1, 1)


class Window(StrEnum):
    """How far back a measurement (or a cumulative incentive) reaches from the period being run."""

    PERIOD = "PERIOD"
    QTD = "QTD"
    YTD = "YTD"


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """One calendar month, written ``YYYY-MM``."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 1900 <= self.year <= 9998:
            raise ValueError(f"{self.year:04d}-{self.month:02d} is not a valid period")

    @classmethod
    def parse(cls, text: str) -> Period:
        m = _PERIOD.fullmatch(text.strip())
        if not m:
            raise ValueError(f"{text!r} is not a period (expected YYYY-MM)")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)

    @classmethod
    def from_index(cls, index: int) -> Period:
        return cls(index // 12, index % 12 + 1)

    @property
    def index(self) -> int:
        return self.year * 12 + self.month - 1

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        """The first day after the period (ranges are half-open everywhere)."""
        return self.next().start

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def next(self) -> Period:
        return Period.from_index(self.index + 1)

    def prev(self) -> Period:
        return Period.from_index(self.index - 1)

    def plus(self, months: int) -> Period:
        return Period.from_index(self.index + months)

    @property
    def quarter(self) -> int:
        return (self.month - 1) // 3 + 1

    def window_start(self, window: Window) -> Period:
        """The first period of the window that ends with this one."""
        if window is Window.PERIOD:
            return self
        if window is Window.QTD:
            return Period(self.year, (self.quarter - 1) * 3 + 1)
        return Period(self.year, 1)

    def has_prior_in_window(self, window: Window) -> bool:
        """Whether an earlier period of the same window exists (so cumulative figures have a "before")."""
        return self.window_start(window) != self

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def month_index(day: date) -> int:
    """The `Period.index` of the month containing ``day``."""
    return day.year * 12 + day.month - 1


def day_number(day: date) -> int:
    """Days since 1970-01-01: the physical value of a polars Date."""
    return (day - EPOCH).days


def overlaps(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    """Whether two half-open ranges [from, to) overlap; ``None`` means open-ended."""
    return (a_to is None or b_from < a_to) and (b_to is None or a_from < b_to)


def covers(valid_from: date, valid_to: date | None, day: date) -> bool:
    return valid_from <= day and (valid_to is None or day < valid_to)

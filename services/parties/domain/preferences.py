"""Communication preferences: time zone, quiet hours and language of a party."""

from __future__ import annotations

import datetime
import functools
import re
import zoneinfo

from services.parties.domain.errors import DomainValueError
from services.parties.domain.text import clean_text

_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
# language[-Script][-REGION]: enough of BCP 47 for choosing message templates, nothing more.
_LANGUAGE = re.compile(r"([A-Za-z]{2,3})(?:[-_]([A-Za-z]{4}))?(?:[-_]([A-Za-z]{2}|[0-9]{3}))?")


@functools.cache
def _zones_by_folded_name() -> dict[str, str]:
    return {name.casefold(): name for name in zoneinfo.available_timezones()}


def validate_time_zone(tz: str) -> str:
    """Return the canonical IANA name ("europe/moscow" → "Europe/Moscow").

    Names are looked up in the installed tz database instead of handed to ``ZoneInfo`` directly,
    which would also try arbitrary file paths; an empty database (no tzdata) rejects everything,
    which is loud rather than wrong.
    """
    name = clean_text(tz, max_length=64)
    if not name:
        raise DomainValueError("must not be empty")
    canonical = _zones_by_folded_name().get(name.casefold())
    if canonical is None:
        raise DomainValueError("is not a known IANA time zone such as Europe/Moscow")
    return canonical


def _parse_time(text: str, field: str) -> datetime.time:
    match = _TIME.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise DomainValueError("must be a time HH:MM between 00:00 and 23:59", field=field)
    return datetime.time(int(match.group(1)), int(match.group(2)))


def parse_quiet_hours(start: str, end: str) -> tuple[datetime.time, datetime.time]:
    """Parse a quiet-hours window; ``end`` before ``start`` means it crosses midnight (22:00-08:00).

    Errors carry ``field`` "start" or "end". Equal ends are refused: an empty window and a 24-hour
    one would be spelled the same, and neither is what someone setting quiet hours means.
    """
    begin = _parse_time(start, "start")
    finish = _parse_time(end, "end")
    if begin == finish:
        raise DomainValueError("must differ from start", field="end")
    return begin, finish


def in_quiet_hours(now_local: datetime.time, start: datetime.time, end: datetime.time) -> bool:
    """Whether the party's local wall-clock time falls in [start, end), across midnight if need be.

    Any tzinfo on the arguments is ignored: the times are already local to the party.
    """
    now = now_local.replace(tzinfo=None)
    begin, finish = start.replace(tzinfo=None), end.replace(tzinfo=None)
    if begin == finish:
        return False
    if begin < finish:
        return begin <= now < finish
    return now >= begin or now < finish


def validate_language(tag: str) -> str:
    """Return the tag in canonical case: "RU_ru" → "ru-RU", "sr-latn-rs" → "sr-Latn-RS".

    Only the shape is checked (language, optional script, optional region), not the registry:
    the tag only selects templates, and an unknown one falls back to the default.
    """
    text = clean_text(tag, max_length=16)
    match = _LANGUAGE.fullmatch(text) if text.isascii() else None
    if match is None:
        raise DomainValueError("must be a language tag such as ru or ru-RU")
    language, script, region = match.groups()
    parts = [language.lower()]
    if script:
        parts.append(script.capitalize())
    if region:
        parts.append(region.upper())
    return "-".join(parts)

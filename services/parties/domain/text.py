"""Free-text cleaning shared by every text field of the parties service."""

from __future__ import annotations

import re
import unicodedata

from services.parties.domain.errors import DomainValueError

# C0/C1 controls other than tab and line breaks (handled separately), DEL, the bidirectional
# embedding/override/isolate controls (they let a name display differently from what is stored,
# the "Trojan source" trick) and the BOM / zero-width no-break space, which is never meaningful
# inside a field.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Every spelling of a line break becomes "\n" before anything else looks at the text.
_LINE_BREAKS = re.compile("\r\n|[\r\x85\u2028\u2029]")
# How much longer than max_length raw input may be before we refuse to even look at it: generous
# enough for sloppy surrounding whitespace, small enough that a 10 MB field costs nothing.
_SLACK_FACTOR = 4
_SLACK_CHARS = 1024


def clean_text(value: str, *, max_length: int, allow_newlines: bool = False) -> str:
    """Return ``value`` as it should be stored: NFC, trimmed, inner whitespace runs collapsed.

    PostgreSQL refuses NUL and lone surrogates outright, and other control characters only cause
    trouble in exports and UIs, so they are rejected here with a reason instead of failing deep in
    the store. NFC makes "й" typed as one or two code points compare equal. Emptiness is left to the
    caller because whether a field is required is not a text-cleaning question.
    """
    if not isinstance(value, str):
        raise DomainValueError("must be text")
    # Fast path, for bulk import: most fields arrive empty or already clean. isprintable() is false
    # for every control, format (bidi, BOM) and surrogate character, so the result is the same.
    if not value:
        return value
    if (
        len(value) <= max_length
        and value.isprintable()
        and unicodedata.is_normalized("NFC", value)
        and value == " ".join(value.split())
    ):
        return value
    if len(value) > _SLACK_FACTOR * max_length + _SLACK_CHARS:
        raise DomainValueError(f"at most {max_length} characters")
    if _SURROGATE.search(value):
        raise DomainValueError("contains invalid unicode (a lone surrogate)")
    bad = _FORBIDDEN.search(value)
    if bad:
        char = bad.group()
        if char == "\ufeff":
            kind = "a byte order mark"
        elif char > "\x9f":
            kind = "a bidirectional control character"
        else:
            kind = "a control character"
        raise DomainValueError(f"contains {kind} (U+{ord(char):04X})")
    text = _LINE_BREAKS.sub("\n", value)
    # Surrounding line breaks are just surrounding whitespace; only inner ones are refused.
    if not allow_newlines and "\n" in text.strip():
        raise DomainValueError("must be a single line")
    text = unicodedata.normalize("NFC", text)
    if allow_newlines:
        cleaned = "\n".join(" ".join(line.split()) for line in text.split("\n")).strip()
    else:
        cleaned = " ".join(text.split())
    if len(cleaned) > max_length:
        raise DomainValueError(f"at most {max_length} characters")
    return cleaned

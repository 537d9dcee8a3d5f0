"""The one error type the domain core raises for bad input."""

from __future__ import annotations


class DomainValueError(ValueError):
    """A value broke a domain rule; ``str()`` is the human-readable reason, nothing else.

    The reason is kept free of field names because only the caller knows where the value came from
    (``contact_points[2].value``); it prefixes the path when it builds the BadRequest field violation.
    When one function validates several arguments at once (an address, quiet hours), ``field`` names
    the argument at fault so the caller can still point at the right sub-field; it is empty otherwise.
    """

    def __init__(self, reason: str, *, field: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field

    def __str__(self) -> str:
        return self.reason

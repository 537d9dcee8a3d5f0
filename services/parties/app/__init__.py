"""The parties service's application layer: one method per RPC, each one transaction."""

from services.parties.app.attributes import AttributesMixin
from services.parties.app.importer import ImportMixin


class PartiesApp(ImportMixin, AttributesMixin):
    """Everything the parties service does, independent of the transport that calls it."""


__all__ = ["PartiesApp"]

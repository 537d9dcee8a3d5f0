"""The gateway's REST resources under /api/v1, one router per module.

Each router carries its full prefix itself (no nested include): the matched route then knows its
whole template, which is what the HTTP metrics are labelled with."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.routes import (
    catalogue,
    commissions,
    commissions_documents,
    commissions_what_if,
    data,
    duplicates,
    items,
    parties,
    relations,
)


def api_routers() -> list[APIRouter]:
    # data first: its POST /parties/import must win over patterns with a {party_id}
    return [
        data.router,
        duplicates.router,
        parties.router,
        items.router,
        relations.router,
        catalogue.router,
        commissions.router,
        commissions_documents.router,
        commissions_what_if.router,
    ]

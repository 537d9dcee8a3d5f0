from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from crmctl.infra import LocalPostgres
from tests.parties.support import Db


@pytest.fixture(scope="module")
def db(postgres: LocalPostgres, parties_db_url: str) -> Db:
    """The module's parties database, for row counts and checks the API cannot make."""
    # The URL carries the socket directory in its query (?host=/tmp/...), so take the name from the path.
    return Db(postgres, urlsplit(parties_db_url).path.lstrip("/"))

"""The domain core stays pure: no gRPC, SQL, Temporal or web framework imports (house rule 3)."""

from __future__ import annotations

import ast
from pathlib import Path

import services.parties.domain as domain

FORBIDDEN = {"grpc", "sqlalchemy", "temporalio", "fastapi", "asyncpg", "psycopg", "starlette"}


def test_domain_imports_nothing_from_the_edges() -> None:
    offenders: list[str] = []
    for path in sorted(Path(domain.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []

"""The commissions domain core stays pure: no gRPC, SQL, Temporal or web framework imports (rule 3)."""

from __future__ import annotations

import ast
from pathlib import Path

import services.commissions.domain as domain

FORBIDDEN = {"grpc", "sqlalchemy", "temporalio", "fastapi", "asyncpg", "psycopg", "starlette", "crm", "crm_runtime"}


def test_domain_imports_nothing_from_the_edges() -> None:
    offenders: list[str] = []
    files = sorted(Path(domain.__file__).parent.glob("*.py"))
    assert len(files) > 10
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_no_formula_is_ever_evaluated_by_python() -> None:
    """The formula language is parsed and interpreted, never handed to eval/exec/compile."""
    for path in sorted(Path(domain.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
        assert not {"eval", "exec", "compile", "__import__"} & set(calls), path.name
        attrs = [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)]
        assert "literal_eval" not in attrs, path.name

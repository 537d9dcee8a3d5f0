"""The container image, checked without a Docker engine (none runs here): the Dockerfile's promises (multi-
stage, non-root numeric user, no build tools in the final stage, the `crm` entry point), and what it
installs: the wheel it builds carries every file the roles need, and the runtime dependencies declared in
pyproject.toml cover every third-party import of the code the image runs, each pinned in requirements.txt."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Code the image runs. crmctl's local-stack modules need the `local` extra and stay out of the image.
IMAGE_PACKAGES = ("crm_runtime", "crmctl", "services", "workflows", "gateway")
LOCAL_ONLY = {"crmctl/infra.py", "crmctl/stack.py"}


def stages() -> list[list[str]]:
    """The Dockerfile's instructions, stage by stage (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    out: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            out.append([])
        if out:
            out[-1].append(line)
    return out


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", re.sub(r"\[.*\]", "", name)).lower()


def pinned() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.txt: {line} is not pinned with =="
            pins[normalize(name)] = version
    return pins


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {normalize(d) for d in project["dependencies"]}


def test_the_image_is_multi_stage_non_root_and_without_build_tools() -> None:
    build, runtime = stages()
    assert build[0].endswith(" AS build") and runtime[0].endswith(" AS runtime")
    final = " ".join(runtime)
    assert re.search(r"^USER 10001:10001$", "\n".join(runtime), re.M), "a numeric non-root user"
    assert "COPY --from=build /opt/crm /opt/crm" in final
    for tool in ("gcc", "build-essential", "apt-get install", "pip install", "git "):
        assert tool not in final, f"the runtime stage must not install {tool}"
    assert 'ENTRYPOINT ["crm"]' in final
    assert "-c /tmp/constraints.txt ." in " ".join(build), "installs the package at the pinned versions"


def test_the_chart_runs_the_image_as_its_user() -> None:
    values = (ROOT / "helm" / "crm" / "values.yaml").read_text()
    assert "runAsUser: 10001" in values and "runAsGroup: 10001" in values


def test_runtime_dependencies_are_pinned_in_the_one_place() -> None:
    pins = pinned()
    assert declared() <= pins.keys(), declared() - pins.keys()
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {normalize(d) for d in extras["local"]} <= pins.keys()


def third_party_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    ours = {*IMAGE_PACKAGES, "crm", "dashboards"}
    return {n for n in names if n not in ours and n not in sys.stdlib_module_names}


def test_every_import_of_the_image_code_is_a_declared_dependency() -> None:
    distributions = packages_distributions()
    pins = pinned()
    needed: dict[str, set[str]] = {}
    for package in IMAGE_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel in LOCAL_ONLY:
                continue
            for module in third_party_imports(path):
                dists = {normalize(d) for d in distributions.get(module, [])}
                assert dists, f"{rel}: no installed distribution provides {module}"
                if not dists & pins.keys():
                    continue  # a dependency of a dependency (e.g. starlette of fastapi)
                needed.setdefault(next(iter(sorted(dists & pins.keys()))), set()).add(rel)
    undeclared = {d: sorted(files)[:3] for d, files in needed.items() if d not in declared()}
    assert not undeclared, f"imported by the image's code but not in pyproject dependencies: {undeclared}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (path,) = out.glob("*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_carries_what_the_roles_need(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for needed in (
        "crmctl/cli.py",
        "crm/parties/v1/parties_pb2.py",
        "services/parties/servicer.py",
        "services/parties/migrations/env.py",
        "services/parties/migrations/script.py.mako",
        "gateway/app.py",
        "workflows/worker.py",
    ):
        assert needed in names, needed
    migrations = sorted(p.name for p in (ROOT / "services" / "parties" / "migrations" / "versions").glob("*.py"))
    shipped = sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("services/parties/migrations/versions/"))
    assert shipped == migrations
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "crm = crmctl.cli:main" in wheel.read(entry_points).decode()

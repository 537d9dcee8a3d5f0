"""Regenerates Python code and type stubs from proto/ into gen/.

One command (`make gen`) so that generated code is never edited by hand; `--check` regenerates into a
temporary folder and fails when gen/ differs, which is how the test suite catches stale code.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
GEN_DIR = ROOT / "gen"
# The mypy-protobuf plugins live beside the interpreter in the virtual environment.
BIN = Path(sys.executable).parent


def generate(out: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    include = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO_DIR}",
        f"-I{include}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--plugin=protoc-gen-mypy={BIN / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={BIN / 'protoc-gen-mypy_grpc'}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    # Packages need __init__.py files so setuptools and type checkers see them.
    for folder in [p for p in out.rglob("*") if p.is_dir()] + [out / "crm"]:
        (folder / "__init__.py").touch()


def tree_differs(a: Path, b: Path) -> list[str]:
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    diffs = sorted(str(p) for p in files_a ^ files_b)
    for rel in files_a & files_b:
        if not filecmp.cmp(a / rel, b / rel, shallow=False):
            diffs.append(str(rel))
    return diffs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if gen/ is stale, change nothing")
    args = parser.parse_args()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp))
            diffs = tree_differs(Path(tmp), GEN_DIR)
        if diffs:
            print("generated code is stale; run `make gen`. Differing files:", *diffs, sep="\n  ")
            return 1
        print("generated code is up to date")
        return 0
    if GEN_DIR.exists():
        shutil.rmtree(GEN_DIR / "crm", ignore_errors=True)
    GEN_DIR.mkdir(exist_ok=True)
    generate(GEN_DIR)
    print(f"generated into {GEN_DIR.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

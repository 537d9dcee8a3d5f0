"""The contracts are the source of truth: generated code must match them, and they must follow the
house style (buf conventions) so that every service's API reads the same."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from google.protobuf import descriptor_pb2

from crm.commissions.v1 import commissions_pb2
from crm.common.v1 import common_pb2
from crm.parties.v1 import parties_pb2

ROOT = Path(__file__).resolve().parent.parent
FILES = [common_pb2.DESCRIPTOR, parties_pb2.DESCRIPTOR, commissions_pb2.DESCRIPTOR]


def test_generated_code_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_packages_are_versioned_and_match_their_path() -> None:
    for fd in FILES:
        parts = fd.package.split(".")
        assert parts[0] == "crm" and parts[-1] == "v1", fd.package
        assert fd.name == "/".join(parts) + "/" + fd.name.rsplit("/", 1)[1], fd.name


def test_each_rpc_has_its_own_request_and_response() -> None:
    for fd in FILES:
        for service in fd.services_by_name.values():
            assert service.name.endswith("Service")
            for method in service.methods:
                assert method.input_type.name == f"{method.name}Request", method.full_name
                assert method.output_type.name == f"{method.name}Response", method.full_name


def test_enums_start_with_an_unspecified_zero_prefixed_by_their_name() -> None:
    import re

    for fd in FILES:
        proto = descriptor_pb2.FileDescriptorProto()
        fd.CopyToProto(proto)
        for enum in proto.enum_type:
            prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper() + "_"
            assert enum.value[0].number == 0 and enum.value[0].name == prefix + "UNSPECIFIED", enum.name
            for value in enum.value:
                assert value.name.startswith(prefix), value.name

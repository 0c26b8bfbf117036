"""Regenerate the CRI modules from api.proto (run from the repository root):

    /opt/darse/venv/bin/python -m darse.cri.proto.generate

Needs grpcio-tools (the `cri-dev` extra); the generated modules are committed, so darse
itself needs only grpcio and protobuf. Paths are given from the root so that the
generated modules import each other as darse.cri.proto.api_pb2."""

from __future__ import annotations

import os
import sys


def main() -> int:
    from grpc_tools import protoc

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    os.chdir(root)
    return protoc.main(["protoc", "-I.", "--python_out=.", "--pyi_out=.",
                        "--grpc_python_out=.", "darse/cri/proto/api.proto"])


if __name__ == "__main__":
    sys.exit(main())

"""The CRI socket: a gRPC server of its own threads inside darsed, beside the Docker
API's asyncio loop, on the same engine."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import grpc

from darse.cri.cni import DEFAULT_BIN_DIRS, DEFAULT_CONF_DIR
from darse.cri.node import Node
from darse.cri.proto import api_pb2_grpc as pb_grpc
from darse.cri.service import ImageService, RuntimeService
from darse.cri.streaming import StreamServer
from darse.errors import Unavailable

if TYPE_CHECKING:
    from darse.engine.engine import Engine

WORKERS = 8  # pulls and stops block a worker each; the kubelet runs a few at once


class CriServer:
    """The gRPC server and the streaming server beside it."""

    def __init__(self, grpc_server: grpc.Server, streams: StreamServer) -> None:
        self.grpc_server, self.streams = grpc_server, streams

    def stop(self, grace: float = 1) -> None:
        self.grpc_server.stop(grace=grace).wait(grace + 1)
        self.streams.stop()


def serve(engine: Engine, path: str, cni_conf_dir: str = DEFAULT_CONF_DIR,
          cni_bin_dirs: tuple[str, ...] = DEFAULT_BIN_DIRS) -> CriServer:
    """Listening on the unix socket at path (root's only: it runs anything as root)."""
    node = Node(engine, cni_conf_dir, cni_bin_dirs)
    streams = StreamServer(node)
    streams.start()
    server = grpc.server(ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="cri"))
    pb_grpc.add_RuntimeServiceServicer_to_server(RuntimeService(node, streams), server)
    pb_grpc.add_ImageServiceServicer_to_server(ImageService(node), server)
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    try:
        os.unlink(path)  # a former darsed's socket
    except FileNotFoundError:
        pass
    old = os.umask(0o177)
    try:
        if server.add_insecure_port(f"unix://{path}") == 0:
            raise RuntimeError("no port")
    except RuntimeError:
        raise Unavailable(f"cannot listen on the CRI socket {path}") from None
    finally:
        os.umask(old)
    server.start()
    os.chmod(path, 0o600)
    return CriServer(server, streams)

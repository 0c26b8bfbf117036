"""The gRPC servicers: each call's message becomes a dict (protobuf's JSON mapping, the
.proto's field names), the work is done by the modules of darse.cri, and the answer goes
back the same way. darse's errors become gRPC status codes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import json_format

from darse import __version__, errors
from darse.cri import containers, execsync, images, metrics, resources, sandboxes, stats
from darse.cri.node import Node, now_ns
from darse.cri.proto import api_pb2 as pb
from darse.cri.proto import api_pb2_grpc as pb_grpc
from darse.cri.streaming import StreamServer

CODES = [(errors.NotFound, grpc.StatusCode.NOT_FOUND),
         (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
         (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
         (errors.Conflict, grpc.StatusCode.FAILED_PRECONDITION),
         (errors.NotImplementedYet, grpc.StatusCode.UNIMPLEMENTED),
         (errors.Unavailable, grpc.StatusCode.UNAVAILABLE),
         (execsync.ExecTimeout, grpc.StatusCode.DEADLINE_EXCEEDED)]


def as_dict(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def as_message(data: dict[str, Any], kind: type) -> Any:
    return json_format.ParseDict(data, kind(), ignore_unknown_fields=True)


def rpc(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def call(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return fn(self, request)
        except errors.DarseError as exc:
            code = next((c for kind, c in CODES if isinstance(exc, kind)),
                        grpc.StatusCode.UNKNOWN)
            context.abort(code, str(exc))
        except OSError as exc:
            context.abort(grpc.StatusCode.INTERNAL, str(exc))
    return call


class RuntimeService(pb_grpc.RuntimeServiceServicer):
    def __init__(self, node: Node, streams: StreamServer) -> None:
        self.node, self.streams = node, streams

    @rpc
    def Version(self, request: pb.VersionRequest) -> pb.VersionResponse:
        return pb.VersionResponse(version="0.1.0", runtime_name="darse",
                                  runtime_version=__version__, runtime_api_version="v1")

    @rpc
    def Status(self, request: pb.StatusRequest) -> pb.StatusResponse:
        self.node.shim.call("ping")  # the runtime is ready when its supervisor answers
        if self.node.cni.network() is not None:
            network = pb.RuntimeCondition(type="NetworkReady", status=True)
        else:
            network = pb.RuntimeCondition(
                type="NetworkReady", status=False, reason="NetworkPluginNotReady",
                message=f"no CNI network configuration in {self.node.cni.conf_dir}")
        return pb.StatusResponse(status=pb.RuntimeStatus(conditions=[
            pb.RuntimeCondition(type="RuntimeReady", status=True), network,
        ]), runtime_handlers=[pb.RuntimeHandler(name="", features=pb.RuntimeHandlerFeatures(
            recursive_read_only_mounts=True, user_namespaces=True))],
            features=pb.RuntimeFeatures(supplemental_groups_policy=True))

    @rpc
    def RuntimeConfig(self, request: pb.RuntimeConfigRequest) -> pb.RuntimeConfigResponse:
        # darse-runtime places containers by cgroupfs paths (no systemd slices).
        return pb.RuntimeConfigResponse(linux=pb.LinuxRuntimeConfiguration(
            cgroup_driver=pb.CGROUPFS))

    @rpc
    def UpdateRuntimeConfig(self, request: pb.UpdateRuntimeConfigRequest
                            ) -> pb.UpdateRuntimeConfigResponse:
        return pb.UpdateRuntimeConfigResponse()  # the pod CIDR matters to CNI only

    # --- sandboxes -----------------------------------------------------------------

    @rpc
    def RunPodSandbox(self, request: pb.RunPodSandboxRequest) -> pb.RunPodSandboxResponse:
        sid = sandboxes.run(self.node, as_dict(request.config), request.runtime_handler)
        return pb.RunPodSandboxResponse(pod_sandbox_id=sid)

    @rpc
    def StopPodSandbox(self, request: pb.StopPodSandboxRequest) -> pb.StopPodSandboxResponse:
        sandboxes.stop(self.node, request.pod_sandbox_id)
        return pb.StopPodSandboxResponse()

    @rpc
    def RemovePodSandbox(self, request: pb.RemovePodSandboxRequest
                         ) -> pb.RemovePodSandboxResponse:
        sandboxes.remove(self.node, request.pod_sandbox_id)
        return pb.RemovePodSandboxResponse()

    @rpc
    def PodSandboxStatus(self, request: pb.PodSandboxStatusRequest
                         ) -> pb.PodSandboxStatusResponse:
        status = sandboxes.status(self.node, request.pod_sandbox_id)
        return pb.PodSandboxStatusResponse(status=as_message(status, pb.PodSandboxStatus),
                                           timestamp=now_ns())

    @rpc
    def ListPodSandbox(self, request: pb.ListPodSandboxRequest) -> pb.ListPodSandboxResponse:
        flt = as_dict(request.filter) if request.HasField("filter") else {}
        if request.HasField("filter") and request.filter.HasField("state"):
            flt["state"] = {"state": pb.PodSandboxState.Name(request.filter.state.state)}
        items = sandboxes.listing(self.node, flt)
        return pb.ListPodSandboxResponse(items=[as_message(i, pb.PodSandbox) for i in items])

    # --- containers ----------------------------------------------------------------

    @rpc
    def CreateContainer(self, request: pb.CreateContainerRequest
                        ) -> pb.CreateContainerResponse:
        cid = containers.create(self.node, request.pod_sandbox_id, as_dict(request.config))
        return pb.CreateContainerResponse(container_id=cid)

    @rpc
    def StartContainer(self, request: pb.StartContainerRequest) -> pb.StartContainerResponse:
        containers.start(self.node, request.container_id)
        return pb.StartContainerResponse()

    @rpc
    def StopContainer(self, request: pb.StopContainerRequest) -> pb.StopContainerResponse:
        containers.stop(self.node, request.container_id, request.timeout)
        return pb.StopContainerResponse()

    @rpc
    def RemoveContainer(self, request: pb.RemoveContainerRequest
                        ) -> pb.RemoveContainerResponse:
        containers.remove(self.node, request.container_id)
        return pb.RemoveContainerResponse()

    @rpc
    def ListContainers(self, request: pb.ListContainersRequest) -> pb.ListContainersResponse:
        flt = as_dict(request.filter) if request.HasField("filter") else {}
        if request.HasField("filter") and request.filter.HasField("state"):
            flt["state"] = {"state": pb.ContainerState.Name(request.filter.state.state)}
        found = containers.listing(self.node, flt)
        return pb.ListContainersResponse(containers=[as_message(c, pb.Container)
                                                     for c in found])

    @rpc
    def ContainerStatus(self, request: pb.ContainerStatusRequest
                        ) -> pb.ContainerStatusResponse:
        status = containers.status(self.node, request.container_id)
        return pb.ContainerStatusResponse(status=as_message(status, pb.ContainerStatus))

    @rpc
    def UpdateContainerResources(self, request: pb.UpdateContainerResourcesRequest
                                 ) -> pb.UpdateContainerResourcesResponse:
        resources.update(self.node, request.container_id, as_dict(request.linux))
        return pb.UpdateContainerResourcesResponse()

    @rpc
    def ReopenContainerLog(self, request: pb.ReopenContainerLogRequest
                           ) -> pb.ReopenContainerLogResponse:
        containers.reopen_log(self.node, request.container_id)
        return pb.ReopenContainerLogResponse()

    @rpc
    def ExecSync(self, request: pb.ExecSyncRequest) -> pb.ExecSyncResponse:
        out, err, code = execsync.exec_sync(self.node, request.container_id,
                                            list(request.cmd), request.timeout)
        return pb.ExecSyncResponse(stdout=out, stderr=err, exit_code=code)

    @rpc
    def Exec(self, request: pb.ExecRequest) -> pb.ExecResponse:
        return pb.ExecResponse(url=self.streams.url("exec", {
            "id": request.container_id, "cmd": list(request.cmd), "tty": request.tty,
            "stdin": request.stdin, "stdout": request.stdout, "stderr": request.stderr}))

    @rpc
    def PortForward(self, request: pb.PortForwardRequest) -> pb.PortForwardResponse:
        return pb.PortForwardResponse(url=self.streams.url("portforward", {
            "id": request.pod_sandbox_id, "ports": list(request.port)}))

    @rpc
    def Attach(self, request: pb.AttachRequest) -> pb.AttachResponse:
        return pb.AttachResponse(url=self.streams.url("attach", {
            "id": request.container_id, "tty": request.tty, "stdin": request.stdin,
            "stdout": request.stdout, "stderr": request.stderr}))

    @rpc
    def ContainerStats(self, request: pb.ContainerStatsRequest) -> pb.ContainerStatsResponse:
        doc = containers.refresh(self.node, self.node.store.container(request.container_id))
        return pb.ContainerStatsResponse(stats=as_message(stats.of(self.node, doc),
                                                          pb.ContainerStats))

    @rpc
    def ListContainerStats(self, request: pb.ListContainerStatsRequest
                           ) -> pb.ListContainerStatsResponse:
        flt = as_dict(request.filter) if request.HasField("filter") else {}
        return pb.ListContainerStatsResponse(stats=[
            as_message(s, pb.ContainerStats) for s in stats.listing(self.node, flt)])

    @rpc
    def PodSandboxStats(self, request: pb.PodSandboxStatsRequest
                        ) -> pb.PodSandboxStatsResponse:
        sandbox = self.node.store.sandbox(request.pod_sandbox_id)
        return pb.PodSandboxStatsResponse(stats=as_message(stats.pod(self.node, sandbox),
                                                           pb.PodSandboxStats))

    @rpc
    def ListPodSandboxStats(self, request: pb.ListPodSandboxStatsRequest
                            ) -> pb.ListPodSandboxStatsResponse:
        flt = as_dict(request.filter) if request.HasField("filter") else {}
        return pb.ListPodSandboxStatsResponse(stats=[
            as_message(s, pb.PodSandboxStats) for s in stats.pod_listing(self.node, flt)])


    @rpc
    def ListMetricDescriptors(self, request: pb.ListMetricDescriptorsRequest
                              ) -> pb.ListMetricDescriptorsResponse:
        return pb.ListMetricDescriptorsResponse(descriptors=[
            as_message(d, pb.MetricDescriptor) for d in metrics.descriptors()])

    @rpc
    def ListPodSandboxMetrics(self, request: pb.ListPodSandboxMetricsRequest
                              ) -> pb.ListPodSandboxMetricsResponse:
        return pb.ListPodSandboxMetricsResponse(pod_metrics=[
            as_message(m, pb.PodSandboxMetrics) for m in metrics.pod_metrics(self.node)])


class ImageService(pb_grpc.ImageServiceServicer):
    def __init__(self, node: Node) -> None:
        self.node = node

    @rpc
    def ListImages(self, request: pb.ListImagesRequest) -> pb.ListImagesResponse:
        flt = as_dict(request.filter) if request.HasField("filter") else {}
        return pb.ListImagesResponse(images=[as_message(i, pb.Image)
                                             for i in images.listing(self.node, flt)])

    @rpc
    def ImageStatus(self, request: pb.ImageStatusRequest) -> pb.ImageStatusResponse:
        found = images.status(self.node, request.image.image)
        if found is None:
            return pb.ImageStatusResponse()
        return pb.ImageStatusResponse(image=as_message(found, pb.Image))

    @rpc
    def PullImage(self, request: pb.PullImageRequest) -> pb.PullImageResponse:
        image_id = images.pull(self.node, request.image.image, as_dict(request.auth))
        return pb.PullImageResponse(image_ref=image_id)

    @rpc
    def RemoveImage(self, request: pb.RemoveImageRequest) -> pb.RemoveImageResponse:
        images.remove(self.node, request.image.image)
        return pb.RemoveImageResponse()

    @rpc
    def ImageFsInfo(self, request: pb.ImageFsInfoRequest) -> pb.ImageFsInfoResponse:
        return as_message(images.fs_info(self.node), pb.ImageFsInfoResponse)

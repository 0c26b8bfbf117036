"""Typed models of the Engine API's request bodies, checked as dockerd decodes them.

dockerd decodes a body into Go structs: a field of the wrong JSON type is refused with
encoding/json's sentence ("json: cannot unmarshal string into Go struct field
HostConfig.HostConfig.Memory of type int64"), field names match case-insensitively
(docker-py sends `CPURealtimePeriod` for CpuRealtimePeriod), unknown fields are ignored.
The same here, before anything is recorded (issue 10 item 4: `Cmd [1,2]` accepted at
create made every later `ps -a` fail). The models follow the Engine API's types
(api/types/container: Config, HostConfig with its Resources, NetworkingConfig; the
network create request; ExecConfig); then come the few checks dockerd makes on values
(port specifications, the minimum memory).

Answered 400: dockerd 20.10 answered these decode errors 500, later ones 400 (an invalid
parameter), which is what they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from darse.errors import InvalidArgument


class Type:
    go = "interface {}"

    def check(self, value: Any, where: Where) -> Any:
        return value


@dataclass(frozen=True)
class Where:
    """The Go struct that holds the field, and the field's path from the body's root
    (map keys and list indexes left out, as encoding/json reports it)."""

    struct: str
    path: str

    def refuse(self, value: Any, go: str, number_text: bool = False) -> InvalidArgument:
        kind = _json_kind(value)
        if number_text and kind == "number":
            kind = f"number {value!r}"
        return InvalidArgument(f"json: cannot unmarshal {kind} into Go struct field "
                               f"{self.struct}.{self.path} of type {go}")


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class Str(Type):
    go = "string"

    def check(self, value: Any, where: Where) -> Any:
        if value is not None and not isinstance(value, str):
            raise where.refuse(value, self.go)
        return value


class Bool(Type):
    go = "bool"

    def check(self, value: Any, where: Where) -> Any:
        if value is not None and not isinstance(value, bool):
            raise where.refuse(value, self.go)
        return value


@dataclass(frozen=True)
class Int(Type):
    go: str = "int64"
    low: int = -(1 << 63)
    high: int = (1 << 63) - 1

    def check(self, value: Any, where: Where) -> Any:
        if value is None:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise where.refuse(value, self.go)
        if isinstance(value, float) or not self.low <= value <= self.high:
            raise where.refuse(value, self.go, number_text=True)
        return value


INT = Int("int")
INT64 = Int()
UINT16 = Int("uint16", 0, (1 << 16) - 1)
UINT32 = Int("uint32", 0, (1 << 32) - 1)
UINT64 = Int("uint64", 0, (1 << 64) - 1)
STR = Str()
BOOL = Bool()
ANY = Type()


@dataclass(frozen=True)
class List(Type):
    item: Type = STR

    @property
    def go(self) -> str:  # type: ignore[override]
        return "[]" + self.item.go

    def check(self, value: Any, where: Where) -> Any:
        if value is None:
            return value
        if not isinstance(value, list):
            raise where.refuse(value, self.go)
        return [self.item.check(v, where) for v in value]


@dataclass(frozen=True)
class Map(Type):
    value: Type = STR

    @property
    def go(self) -> str:  # type: ignore[override]
        return "map[string]" + self.value.go

    def check(self, value: Any, where: Where) -> Any:
        if value is None:
            return value
        if not isinstance(value, dict):
            raise where.refuse(value, self.go)
        return {k: self.value.check(v, where) for k, v in value.items()}


class StrSlice(Type):
    """strslice.StrSlice (Cmd, Entrypoint, Shell, CapAdd): a string or strings; dockerd
    reports a bad one as a bad string, whatever it was."""

    go = "string"

    def check(self, value: Any, where: Where) -> Any:
        if value is None or isinstance(value, str):
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise where.refuse(value, self.go)
        return value


STRSLICE = StrSlice()


@dataclass(frozen=True)
class Struct(Type):
    name: str  # the Go type's name, as encoding/json names the holder of a field
    fields: dict[str, Type] = field(default_factory=dict)
    package: str = "container"

    @property
    def go(self) -> str:  # type: ignore[override]
        return f"{self.package}.{self.name}"

    def check(self, value: Any, where: Where) -> Any:
        if value is None:
            return value
        if not isinstance(value, dict):
            raise where.refuse(value, self.go)
        return self.decode(value, where.path + ".")

    def decode(self, body: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        """The body with its known fields checked and named as the model names them."""
        by_lower = {name.lower(): name for name in self.fields}
        out: dict[str, Any] = {}
        for key, value in body.items():
            name = key if key in self.fields else by_lower.get(key.lower())
            if name is None:
                out[key] = value  # unknown to the model: kept, as dockerd ignores it
                continue
            if name != key and name in body:
                continue  # the exact name wins over another case of it
            out[name] = self.fields[name].check(value, Where(self.name, prefix + name))
        return out


def _struct(name: str, package: str = "container", **fields: Type) -> Struct:
    return Struct(name, fields, package)


# --- api/types/container -----------------------------------------------------------

HEALTH = _struct("HealthConfig", Test=List(), Interval=INT64, Timeout=INT64,
                 StartPeriod=INT64, StartInterval=INT64, Retries=INT)
PORT_BINDING = _struct("PortBinding", "nat", HostIp=STR, HostPort=STR)
THROTTLE = _struct("ThrottleDevice", "blkiodev", Path=STR, Rate=UINT64)
ULIMIT = _struct("Ulimit", "units", Name=STR, Hard=INT64, Soft=INT64)
MOUNT = _struct(
    "Mount", "mount", Type=STR, Source=STR, Target=STR, ReadOnly=BOOL, Consistency=STR,
    BindOptions=_struct("BindOptions", "mount", Propagation=STR, NonRecursive=BOOL,
                        CreateMountpoint=BOOL),
    VolumeOptions=_struct("VolumeOptions", "mount", NoCopy=BOOL, Labels=Map(), Subpath=STR,
                          DriverConfig=_struct("Driver", "mount", Name=STR,
                                               Options=Map())),
    TmpfsOptions=_struct("TmpfsOptions", "mount", SizeBytes=INT64, Mode=UINT32))
RESOURCES: dict[str, Type] = dict(
    CpuShares=INT64, Memory=INT64, NanoCpus=INT64, CgroupParent=STR, BlkioWeight=UINT16,
    BlkioWeightDevice=List(_struct("WeightDevice", "blkiodev", Path=STR, Weight=UINT16)),
    BlkioDeviceReadBps=List(THROTTLE), BlkioDeviceWriteBps=List(THROTTLE),
    BlkioDeviceReadIOps=List(THROTTLE), BlkioDeviceWriteIOps=List(THROTTLE),
    CpuPeriod=INT64, CpuQuota=INT64, CpuRealtimePeriod=INT64, CpuRealtimeRuntime=INT64,
    CpusetCpus=STR, CpusetMems=STR,
    Devices=List(_struct("DeviceMapping", PathOnHost=STR, PathInContainer=STR,
                         CgroupPermissions=STR)),
    DeviceCgroupRules=List(), DeviceRequests=List(ANY), KernelMemory=INT64,
    KernelMemoryTCP=INT64, MemoryReservation=INT64, MemorySwap=INT64,
    MemorySwappiness=INT64, OomKillDisable=BOOL, PidsLimit=INT64, Ulimits=List(ULIMIT),
    CpuCount=INT64, CpuPercent=INT64, IOMaximumIOps=UINT64, IOMaximumBandwidth=UINT64)
HOST_CONFIG = _struct(
    "HostConfig", Binds=List(), ContainerIDFile=STR,
    LogConfig=_struct("LogConfig", Type=STR, Config=Map()), NetworkMode=STR,
    PortBindings=Map(List(PORT_BINDING)),
    RestartPolicy=_struct("RestartPolicy", Name=STR, MaximumRetryCount=INT),
    AutoRemove=BOOL, VolumeDriver=STR, VolumesFrom=List(), ConsoleSize=List(UINT64),
    Annotations=Map(), CapAdd=STRSLICE, CapDrop=STRSLICE, CgroupnsMode=STR, Dns=List(),
    DnsOptions=List(), DnsSearch=List(), ExtraHosts=List(), GroupAdd=List(), IpcMode=STR,
    Cgroup=STR, Links=List(), OomScoreAdj=INT, PidMode=STR, Privileged=BOOL,
    PublishAllPorts=BOOL, ReadonlyRootfs=BOOL, SecurityOpt=List(), StorageOpt=Map(),
    Tmpfs=Map(), UTSMode=STR, UsernsMode=STR, ShmSize=INT64, Sysctls=Map(), Runtime=STR,
    Isolation=STR, Mounts=List(MOUNT), MaskedPaths=List(), ReadonlyPaths=List(), Init=BOOL,
    **RESOURCES)
ENDPOINT = _struct(
    "EndpointSettings", "network",
    IPAMConfig=_struct("EndpointIPAMConfig", "network", IPv4Address=STR, IPv6Address=STR,
                       LinkLocalIPs=List()),
    Links=List(), Aliases=List(), DriverOpts=Map(), NetworkID=STR, EndpointID=STR,
    Gateway=STR, IPAddress=STR, IPPrefixLen=INT, IPv6Gateway=STR, GlobalIPv6Address=STR,
    GlobalIPv6PrefixLen=INT, MacAddress=STR, DNSNames=List())
NETWORKING_CONFIG = _struct("NetworkingConfig", "network", EndpointsConfig=Map(ENDPOINT))
CONTAINER_CREATE = _struct(
    "ContainerConfigWrapper", "runconfig",
    Hostname=STR, Domainname=STR, User=STR, AttachStdin=BOOL, AttachStdout=BOOL,
    AttachStderr=BOOL, ExposedPorts=Map(ANY), Tty=BOOL, OpenStdin=BOOL, StdinOnce=BOOL,
    Env=List(), Cmd=STRSLICE, Healthcheck=HEALTH, ArgsEscaped=BOOL, Image=STR,
    Volumes=Map(ANY), WorkingDir=STR, Entrypoint=STRSLICE, NetworkDisabled=BOOL,
    MacAddress=STR, OnBuild=List(), Labels=Map(), StopSignal=STR, StopTimeout=INT,
    Shell=STRSLICE, HostConfig=HOST_CONFIG, NetworkingConfig=NETWORKING_CONFIG)
EXEC_CREATE = _struct(
    "ExecConfig", "types", User=STR, Privileged=BOOL, Tty=BOOL, ConsoleSize=List(UINT64),
    AttachStdin=BOOL, AttachStderr=BOOL, AttachStdout=BOOL, Detach=BOOL, DetachKeys=STR,
    Env=List(), WorkingDir=STR, Cmd=List())  # []string here, not a strslice
EXEC_START = _struct("ExecStartCheck", "types", Detach=BOOL, Tty=BOOL,
                     ConsoleSize=List(UINT64))
CONTAINER_UPDATE = _struct(
    "UpdateConfig", RestartPolicy=_struct("RestartPolicy", Name=STR, MaximumRetryCount=INT),
    **RESOURCES)
COMMIT_CONFIG = Struct("Config", dict(CONTAINER_CREATE.fields))
VOLUME_CREATE = _struct("VolumeCreateBody", "volume", Name=STR, Driver=STR,
                        DriverOpts=Map(), Labels=Map())
NETWORK_CONNECT = _struct("NetworkConnect", "types", Container=STR, EndpointConfig=ENDPOINT)
NETWORK_DISCONNECT = _struct("NetworkDisconnect", "types", Container=STR, Force=BOOL)
AUTH_CONFIG = _struct("AuthConfig", "types", username=STR, password=STR, auth=STR,
                      email=STR, serveraddress=STR, identitytoken=STR, registrytoken=STR)
NETWORK_CREATE = _struct(
    "NetworkCreateRequest", "types", Name=STR, CheckDuplicate=BOOL, Driver=STR, Scope=STR,
    EnableIPv6=BOOL, Internal=BOOL, Attachable=BOOL, Ingress=BOOL, ConfigOnly=BOOL,
    IPAM=_struct("IPAM", "network", Driver=STR, Options=Map(),
                 Config=List(_struct("IPAMConfig", "network", Subnet=STR, IPRange=STR,
                                     Gateway=STR, AuxiliaryAddresses=Map()))),
    Options=Map(), Labels=Map())

# --- the checks of values dockerd makes -------------------------------------------

MIN_MEMORY = 6 * 1024 * 1024
_PORT = re.compile(r"^(\d+)(?:-(\d+))?$")


def _port_range(text: str, allow_zero: bool) -> None:
    """nat.ParsePortRange: a port or a range of them, each 0-65535."""
    m = _PORT.match(text)
    low = int(m.group(1)) if m else -1
    high = int(m.group(2)) if m and m.group(2) else low
    if not m or not (0 if allow_zero else 1) <= low <= high <= 65535:
        raise InvalidArgument(f"invalid port specification: \"{text}\"")


def _port_key(key: str) -> None:
    port, _, proto = key.partition("/")
    _port_range(port, allow_zero=False)
    if proto and proto.lower() not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"invalid proto: {proto}")


def container_create(body: dict[str, Any]) -> dict[str, Any]:
    """POST /containers/create's body, checked and with the model's field names."""
    body = CONTAINER_CREATE.decode(body)
    for key in body.get("ExposedPorts") or {}:
        _port_key(key)
    host = body.get("HostConfig") or {}
    for key, bindings in (host.get("PortBindings") or {}).items():
        _port_key(key)
        for binding in bindings or []:
            if (binding or {}).get("HostPort"):
                _port_range(binding["HostPort"], allow_zero=True)
    memory = host.get("Memory") or 0
    if memory and memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    return body


def exec_create(body: dict[str, Any]) -> dict[str, Any]:
    return EXEC_CREATE.decode(body)


def decode(model: Struct, body: Any) -> dict[str, Any]:
    """A body that must be a JSON object, checked against its model."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise InvalidArgument(f"json: cannot unmarshal {_json_kind(body)} into Go value of "
                              f"type {model.go}")
    return model.decode(body)


def network_create(body: dict[str, Any]) -> dict[str, Any]:
    body = NETWORK_CREATE.decode(body)
    if not body.get("Name"):
        raise InvalidArgument("invalid name: ")  # dockerd's words for an empty name
    return body

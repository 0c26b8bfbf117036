"""The Engine API's Go types, as the docker CLI decodes inspect output before --format
sees it: a template reads Go field names (`.ID` of an image, `.Server.APIVersion`), an
absent field is its type's zero value (`map[]`, `[]`, `0`, `<nil>`), and a struct
prints as `{a b c}` with every field in order. A template naming a field the type does
not have is run again on the raw JSON, as the docker CLI falls back.

Types: "s" string, "i" integer, "b" bool, "a" any JSON value, "t" time.Time, "d"
time.Duration, ("map", T), ("list", T), ("ptr", T), ("set",) for map[K]struct{}, a
struct's name, ("embed", name) for an embedded struct. A struct whose fields are not all
listed here ("open") still gives its listed fields typed; others are read raw and the
struct prints as a map.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds on every command
if TYPE_CHECKING:
    from typing import Any

S, N, B, A, T, D = "s", "i", "b", "a", "t", "d"


def _f(spec: str) -> tuple[str, str]:
    go, _, wire = spec.partition("=")
    return go, wire or go


# name -> (complete, [(go name, json name, type)])
STRUCTS: dict[str, tuple[bool, list[tuple[str, str, Any]]]] = {}


def _struct(name: str, fields: list[tuple[str, Any]], complete: bool = True) -> None:
    STRUCTS[name] = (complete, [(*_f(spec), t) for spec, t in fields])


_struct("ContainerJSON", [
    ("ID=Id", S), ("Created", S), ("Path", S), ("Args", ("list", S)),
    ("State", ("ptr", "ContainerState")), ("Image", S), ("ResolvConfPath", S),
    ("HostnamePath", S), ("HostsPath", S), ("LogPath", S), ("Node", ("ptr", A)),
    ("Name", S), ("RestartCount", N), ("Driver", S), ("Platform", S), ("MountLabel", S),
    ("ProcessLabel", S), ("AppArmorProfile", S), ("ExecIDs", ("list", S)),
    ("HostConfig", ("ptr", "HostConfig")), ("GraphDriver", "GraphDriverData"),
    ("SizeRw", ("ptr", N)), ("SizeRootFs", ("ptr", N)), ("Mounts", ("list", "MountPoint")),
    ("Config", ("ptr", "Config")), ("NetworkSettings", ("ptr", "NetworkSettings"))])
_struct("ContainerState", [
    ("Status", S), ("Running", B), ("Paused", B), ("Restarting", B), ("OOMKilled", B),
    ("Dead", B), ("Pid", N), ("ExitCode", N), ("Error", S), ("StartedAt", S),
    ("FinishedAt", S), ("Health", ("ptr", "Health"))])
_struct("Health", [("Status", S), ("FailingStreak", N),
                   ("Log", ("list", ("ptr", "HealthcheckResult")))])
_struct("HealthcheckResult", [("Start", T), ("End", T), ("ExitCode", N), ("Output", S)])
_struct("GraphDriverData", [("Data", ("map", S)), ("Name", S)])
_struct("MountPoint", [("Type", S), ("Name", S), ("Source", S), ("Destination", S),
                       ("Driver", S), ("Mode", S), ("RW", B), ("Propagation", S)])
_struct("Config", [
    ("Hostname", S), ("Domainname", S), ("User", S), ("AttachStdin", B),
    ("AttachStdout", B), ("AttachStderr", B), ("ExposedPorts", ("set",)), ("Tty", B),
    ("OpenStdin", B), ("StdinOnce", B), ("Env", ("list", S)), ("Cmd", ("list", S)),
    ("Healthcheck", ("ptr", "HealthConfig")), ("ArgsEscaped", B), ("Image", S),
    ("Volumes", ("set",)), ("WorkingDir", S), ("Entrypoint", ("list", S)),
    ("NetworkDisabled", B), ("MacAddress", S), ("OnBuild", ("list", S)),
    ("Labels", ("map", S)), ("StopSignal", S), ("StopTimeout", ("ptr", N)),
    ("Shell", ("list", S))])
_struct("HealthConfig", [("Test", ("list", S)), ("Interval", D), ("Timeout", D),
                         ("StartPeriod", D), ("Retries", N)])
_struct("NetworkSettingsBase", [
    ("Bridge", S), ("SandboxID", S), ("HairpinMode", B), ("LinkLocalIPv6Address", S),
    ("LinkLocalIPv6PrefixLen", N), ("Ports", ("map", ("list", "PortBinding"))),
    ("SandboxKey", S), ("SecondaryIPAddresses", ("list", "Address")),
    ("SecondaryIPv6Addresses", ("list", "Address"))])
_struct("DefaultNetworkSettings", [
    ("EndpointID", S), ("Gateway", S), ("GlobalIPv6Address", S), ("GlobalIPv6PrefixLen", N),
    ("IPAddress", S), ("IPPrefixLen", N), ("IPv6Gateway", S), ("MacAddress", S)])
_struct("NetworkSettings", [
    ("NetworkSettingsBase", ("embed", "NetworkSettingsBase")),
    ("DefaultNetworkSettings", ("embed", "DefaultNetworkSettings")),
    ("Networks", ("map", ("ptr", "EndpointSettings")))])
_struct("PortBinding", [("HostIP=HostIp", S), ("HostPort", S)])
_struct("Address", [("Addr", S), ("PrefixLen", N)])
_struct("EndpointSettings", [
    ("IPAMConfig", ("ptr", "EndpointIPAMConfig")), ("Links", ("list", S)),
    ("Aliases", ("list", S)), ("NetworkID", S), ("EndpointID", S), ("Gateway", S),
    ("IPAddress", S), ("IPPrefixLen", N), ("IPv6Gateway", S), ("GlobalIPv6Address", S),
    ("GlobalIPv6PrefixLen", N), ("MacAddress", S), ("DriverOpts", ("map", S))])
_struct("EndpointIPAMConfig", [("IPv4Address", S), ("IPv6Address", S),
                               ("LinkLocalIPs", ("list", S))])
_struct("HostConfig", [
    ("Binds", ("list", S)), ("ContainerIDFile", S), ("LogConfig", "LogConfig"),
    ("NetworkMode", S), ("PortBindings", ("map", ("list", "PortBinding"))),
    ("RestartPolicy", "RestartPolicy"), ("AutoRemove", B), ("VolumeDriver", S),
    ("VolumesFrom", ("list", S)), ("CapAdd", ("list", S)), ("CapDrop", ("list", S)),
    ("CgroupnsMode", S), ("DNS=Dns", ("list", S)), ("DNSOptions=DnsOptions", ("list", S)),
    ("DNSSearch=DnsSearch", ("list", S)), ("ExtraHosts", ("list", S)),
    ("GroupAdd", ("list", S)), ("IpcMode", S), ("Cgroup", S), ("Links", ("list", S)),
    ("OomScoreAdj", N), ("PidMode", S), ("Privileged", B), ("PublishAllPorts", B),
    ("ReadonlyRootfs", B), ("SecurityOpt", ("list", S)), ("StorageOpt", ("map", S)),
    ("Tmpfs", ("map", S)), ("UTSMode", S), ("UsernsMode", S), ("ShmSize", N),
    ("Sysctls", ("map", S)), ("Runtime", S), ("ConsoleSize", ("list", N)), ("Isolation", S),
    ("Resources", ("embed", "Resources")), ("Mounts", ("list", "Mount")),
    ("MaskedPaths", ("list", S)), ("ReadonlyPaths", ("list", S)), ("Init", ("ptr", B))])
_struct("Resources", [
    ("CPUShares=CpuShares", N), ("Memory", N), ("NanoCPUs=NanoCpus", N),
    ("CgroupParent", S), ("BlkioWeight", N),
    ("BlkioWeightDevice", ("list", ("ptr", "WeightDevice"))),
    ("BlkioDeviceReadBps", ("list", ("ptr", "ThrottleDevice"))),
    ("BlkioDeviceWriteBps", ("list", ("ptr", "ThrottleDevice"))),
    ("BlkioDeviceReadIOps", ("list", ("ptr", "ThrottleDevice"))),
    ("BlkioDeviceWriteIOps", ("list", ("ptr", "ThrottleDevice"))),
    ("CPUPeriod=CpuPeriod", N), ("CPUQuota=CpuQuota", N),
    ("CPURealtimePeriod=CpuRealtimePeriod", N), ("CPURealtimeRuntime=CpuRealtimeRuntime", N),
    ("CpusetCpus", S), ("CpusetMems", S), ("Devices", ("list", "DeviceMapping")),
    ("DeviceCgroupRules", ("list", S)), ("DeviceRequests", ("list", "DeviceRequest")),
    ("KernelMemory", N), ("KernelMemoryTCP", N), ("MemoryReservation", N),
    ("MemorySwap", N), ("MemorySwappiness", ("ptr", N)), ("OomKillDisable", ("ptr", B)),
    ("PidsLimit", ("ptr", N)), ("Ulimits", ("list", ("ptr", "Ulimit"))),
    ("CPUCount=CpuCount", N), ("CPUPercent=CpuPercent", N),
    ("IOMaximumIOps", N), ("IOMaximumBandwidth", N)])
_struct("WeightDevice", [("Path", S), ("Weight", N)])
_struct("ThrottleDevice", [("Path", S), ("Rate", N)])
_struct("DeviceRequest", [("Driver", S), ("Count", N), ("DeviceIDs", ("list", S)),
                          ("Capabilities", ("list", ("list", S))), ("Options", ("map", S))])
_struct("Mount", [("Type", S), ("Source", S), ("Target", S), ("ReadOnly", B),
                  ("Consistency", S), ("BindOptions", ("ptr", A)),
                  ("VolumeOptions", ("ptr", A)), ("TmpfsOptions", ("ptr", A))])
_struct("LogConfig", [("Type", S), ("Config", ("map", S))])
_struct("RestartPolicy", [("Name", S), ("MaximumRetryCount", N)])
_struct("Ulimit", [("Name", S), ("Hard", N), ("Soft", N)])
_struct("DeviceMapping", [("PathOnHost", S), ("PathInContainer", S),
                          ("CgroupPermissions", S)])
_struct("ImageInspect", [
    ("ID=Id", S), ("RepoTags", ("list", S)), ("RepoDigests", ("list", S)), ("Parent", S),
    ("Comment", S), ("Created", S), ("Container", S),
    ("ContainerConfig", ("ptr", "Config")), ("DockerVersion", S), ("Author", S),
    ("Config", ("ptr", "Config")), ("Architecture", S), ("Variant", S), ("Os", S),
    ("OsVersion", S), ("Size", N), ("VirtualSize", N), ("GraphDriver", "GraphDriverData"),
    ("RootFS", "RootFS"), ("Metadata", "ImageMetadata")])
_struct("RootFS", [("Type", S), ("Layers", ("list", S)), ("BaseLayer", S)])
_struct("ImageMetadata", [("LastTagTime", T)])
_struct("NetworkResource", [
    ("Name", S), ("ID=Id", S), ("Created", T), ("Scope", S), ("Driver", S),
    ("EnableIPv6", B), ("IPAM", "IPAM"), ("Internal", B), ("Attachable", B), ("Ingress", B),
    ("ConfigFrom", "ConfigReference"), ("ConfigOnly", B),
    ("Containers", ("map", "EndpointResource")), ("Options", ("map", S)),
    ("Labels", ("map", S)), ("Peers", ("list", A)), ("Services", ("map", A))])
_struct("IPAM", [("Driver", S), ("Options", ("map", S)), ("Config", ("list", "IPAMConfig"))])
_struct("IPAMConfig", [("Subnet", S), ("IPRange", S), ("Gateway", S),
                       ("AuxAddress=AuxiliaryAddresses", ("map", S))])
_struct("ConfigReference", [("Network", S)])
_struct("EndpointResource", [("Name", S), ("EndpointID", S), ("MacAddress", S),
                             ("IPv4Address", S), ("IPv6Address", S)])
_struct("Volume", [
    ("CreatedAt", S), ("Driver", S), ("Labels", ("map", S)), ("Mountpoint", S), ("Name", S),
    ("Options", ("map", S)), ("Scope", S), ("Status", ("map", A)),
    ("UsageData", ("ptr", "UsageData"))])
_struct("UsageData", [("RefCount", N), ("Size", N)])
_struct("Version", [
    ("Client", "ClientVersion"), ("Server", ("ptr", "ServerVersion"))])
_struct("ClientVersion", [
    ("Platform", "PlatformName"), ("Version", S), ("APIVersion=ApiVersion", S),
    ("DefaultAPIVersion", S), ("GitCommit", S), ("GoVersion", S), ("Os", S), ("Arch", S),
    ("BuildTime", S), ("Context", S), ("Experimental", B)])
_struct("ServerVersion", [
    ("Platform", "PlatformName"), ("Components", ("list", "ComponentVersion")),
    ("Version", S), ("APIVersion=ApiVersion", S), ("MinAPIVersion", S), ("GitCommit", S),
    ("GoVersion", S), ("Os", S), ("Arch", S), ("KernelVersion", S), ("Experimental", B),
    ("BuildTime", S)])
_struct("PlatformName", [("Name", S)])
_struct("ComponentVersion", [("Name", S), ("Version", S), ("Details", ("map", S))])

_struct("EventMessage", [
    ("Status=status", S), ("ID=id", S), ("From=from", S), ("Type", S), ("Action", S),
    ("Actor", "EventActor"), ("Scope=scope", S), ("Time=time", N), ("TimeNano=timeNano", N)])
_struct("EventActor", [("ID", S), ("Attributes", ("map", S))])

# what `inspect --type X` (and `X inspect`) decodes into
ROOTS = {"container": "ContainerJSON", "image": "ImageInspect", "network": "NetworkResource",
         "volume": "Volume", "version": "Version", "event": "EventMessage"}


class NoField(Exception):
    """A template named a field its Go type does not have."""


class Nil:
    """A nil pointer: `<nil>` wherever it prints; null in JSON."""

    def __bool__(self) -> bool:
        return False


NIL = Nil()


class GoStruct(dict):
    """A JSON object read as a Go struct; its items are the JSON's (json prints them)."""

    def __init__(self, raw: dict, name: str, pointer: bool = False) -> None:
        complete, fields = STRUCTS[name]
        super().__init__(raw)
        self.name, self.pointer, self.complete = name, pointer, complete
        for _go, wire, kind in _flat(name):
            if wire in raw:
                self[wire] = typed(raw[wire], kind, keep_nil=True)

    def field(self, go_name: str) -> Any:
        for go, wire, kind in _flat(self.name):
            if go == go_name:
                value = self.get(wire)
                return zero(kind) if value is None else value
        for go, _wire, kind in STRUCTS[self.name][1]:
            if go == go_name and isinstance(kind, tuple) and kind[0] == "embed":
                return GoStruct(self, kind[1])
        if not self.complete:
            return self.get(go_name)
        raise NoField(go_name)

    def values_in_order(self) -> list[Any]:
        out = []
        for go, _wire, kind in STRUCTS[self.name][1]:
            if isinstance(kind, tuple) and kind[0] == "embed":
                out.append(GoStruct(self, kind[1]))
            else:
                out.append(self.field(go))
        return out


def _flat(name: str) -> list[tuple[str, str, Any]]:
    out = []
    for go, wire, kind in STRUCTS[name][1]:
        if isinstance(kind, tuple) and kind[0] == "embed":
            out += _flat(kind[1])
        else:
            out.append((go, wire, kind))
    return out


class GoMap(dict):
    set_of_empty = False
    nil = False  # absent or null in the JSON: prints map[], encodes as null
    elem: Any = None  # the values' Go type


class GoList(list):
    nil = False  # absent or null in the JSON: prints [], encodes as null


class GoTime(str):
    def go(self) -> str:
        """time.Time's String(): 2006-01-02 15:04:05.999999999 -0700 MST."""
        text = str(self)
        date, _, rest = text.partition("T")
        clock, zone = rest, "Z"
        for sep in ("Z", "+", "-"):
            if sep in rest:
                clock, _, zone = rest.partition(sep)
                zone = sep + zone if sep != "Z" else "Z"
                break
        whole, _, frac = clock.partition(".")
        frac = frac.rstrip("0")
        if zone == "Z":
            zone_text = "+0000 UTC"
        else:
            offset = zone.replace(":", "")
            zone_text = f"{offset} {offset}"
        return f"{date} {whole}{'.' + frac if frac else ''} {zone_text}"


class GoDuration(int):
    def go(self) -> str:
        """time.Duration's String(): 1h2m3.5s, 1.5s, 500ms, 0s."""
        ns = int(self)
        if ns == 0:
            return "0s"
        sign, ns = ("-", -ns) if ns < 0 else ("", ns)
        if ns < 10**9:
            for unit, size in (("ms", 10**6), ("µs", 10**3), ("ns", 1)):
                if ns >= size:
                    return sign + _decimal(ns, size) + unit
        hours, rest = divmod(ns, 3600 * 10**9)
        minutes, rest = divmod(rest, 60 * 10**9)
        seconds = _decimal(rest, 10**9) + "s"
        if hours:
            return f"{sign}{hours}h{minutes}m{seconds}"
        if minutes:
            return f"{sign}{minutes}m{seconds}"
        return sign + seconds


def _decimal(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    digits = str(frac).rjust(len(str(unit)) - 1, "0").rstrip("0") if frac else ""
    return f"{whole}.{digits}" if digits else str(whole)


def zero(kind: Any) -> Any:
    if kind == S:
        return ""
    if kind == N:
        return 0
    if kind == B:
        return False
    if kind == T:
        return GoTime("0001-01-01T00:00:00Z")
    if kind == D:
        return GoDuration(0)
    if kind == A:
        return None
    if isinstance(kind, str):
        return GoStruct({}, kind)
    if kind[0] == "ptr":
        return NIL
    if kind[0] == "list":
        out_list = GoList()
        out_list.nil = True
        return out_list
    out = GoMap()
    out.nil = True
    out.set_of_empty = kind[0] == "set"
    out.elem = kind[1] if kind[0] == "map" else None
    return out


def typed(raw: Any, kind: Any, keep_nil: bool = False) -> Any:
    """raw (decoded JSON) as a value of the Go type `kind`."""
    if raw is None:
        return None if keep_nil else zero(kind)
    if kind in (S, N, B, A):
        return raw
    if kind == T:
        return GoTime(raw) if isinstance(raw, str) else raw
    if kind == D:
        return GoDuration(raw) if isinstance(raw, int) else raw
    if isinstance(kind, str):
        return GoStruct(raw, kind) if isinstance(raw, dict) else raw
    if kind[0] == "ptr":
        value = typed(raw, kind[1])
        if isinstance(value, GoStruct):
            value.pointer = True
        return value
    if kind[0] == "list":
        return GoList(typed(v, kind[1]) for v in raw) if isinstance(raw, list) else raw
    if not isinstance(raw, dict):
        return raw
    if kind[0] == "set":
        out = GoMap(raw)
        out.set_of_empty = True
        return out
    out = GoMap({k: typed(v, kind[1]) for k, v in raw.items()})
    out.elem = kind[1]
    return out

"""The engine: the daemon's one object. Containers, their lifecycle and their state,
over the image store and the shim. Synchronous and thread-safe: the API calls it from
its executor threads; it never forks (the shim does)."""

from __future__ import annotations

import copy
import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from typing import Any

from darse import syscalls
from darse.db import Database
from darse.engine import (
    dataroot,
    environ,
    etc_files,
    logdrivers,
    names,
    networking,
    prune,
    spec,
    trash,
    users,
)
from darse.engine import exec as execs
from darse.engine import health as healthchecks
from darse.engine import init_process as inits
from darse.engine import limits as run_limits
from darse.engine import volumes as mounts
from darse.engine.config import DaemonConfig
from darse.engine.containers import ZERO_TIME, ContainerStore, new_state
from darse.engine.events import EventBus
from darse.engine.hostconfig import complete as complete_host_config
from darse.engine.locks import ContainerLocks
from darse.engine.restart import RestartManager
from darse.errors import (
    Conflict,
    DarseError,
    InvalidArgument,
    NotFound,
    SystemFailure,
)
from darse.image.registry import RegistryConfig
from darse.image.store import ImageStore
from darse.network.dns import Resolver
from darse.network.manager import NetworkManager
from darse.runtime import kill as signals
from darse.runtime.state import now
from darse.shim.client import ShimClient
from darse.shim.logger import DEFAULT_MAX_FILE, DEFAULT_MAX_SIZE, parse_size
from darse.volume.store import VolumeStore

NETWORK_MODES = ("default", "bridge", "none", "host")


class Engine:
    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        from darse.engine import remap

        self.remap = remap.resolve(config.userns_remap)
        dataroot.secure(config.data_root, config.exec_root,
                        self.remap.gid if self.remap is not None else 0)
        self.db = Database(os.path.join(config.data_root, "state.db"))
        self.images = ImageStore(config.data_root, self.db, RegistryConfig(
            config.insecure_registries, config.registry_mirrors,
            config.registry_mirrors_by_host), self._image_users)
        self.images.layer_users = self._layers_in_use
        self.images.layer_removed = self._drop_remapped_layer
        self.images.snapshots.clean_scratch()
        self.containers = ContainerStore(self.db)
        self.volumes = VolumeStore(config.data_root, self.db)
        self.volumes.changed = lambda action, name: self.events.emit(
            "volume", action, name, {"driver": "local"})
        self.networks = NetworkManager(self.db, config.exec_root,
                                       config.raw.get("bridge") or "darse0", config.bip,
                                       config.default_address_pools,
                                       bool(config.raw.get("ipv6")),
                                       config.raw.get("fixed-cidr-v6") or "")
        self.dns = Resolver(lambda asker, name: networking.lookup(self, asker, name),
                            lambda asker, ip: networking.reverse_lookup(self, asker, ip),
                            lambda asker, name: networking.lookup(self, asker, name,
                                                                  "GlobalIPv6Address"))
        self.containers_dir = os.path.join(config.data_root, "containers")
        self.shim = ShimClient(config.exec_root)
        self.events = EventBus()
        self.execs: dict[str, dict[str, Any]] = {}
        self._stopping: set[str] = set()
        self._fresh: set[str] = set()  # made by this darsed, never started: nothing in the shim
        self._removed_exits: dict[str, int] = {}  # for waits that outlive their container
        self._lock = threading.RLock()  # the exec table and remapped layers' copies
        self._clocks = ContainerLocks()
        self.restarts = RestartManager(self)
        self.health = healthchecks.HealthMonitor(self)
        self._listener: threading.Thread | None = None
        self._closed = False

    # --- startup ---------------------------------------------------------------

    def startup(self) -> None:
        """Reach (or start) the shim, listen to its exits, re-adopt containers."""
        from darse.engine import reclaim

        reclaim.leftovers(self)
        self.shim.ensure_running()
        self.networks.setup()
        self._listener = threading.Thread(target=self._listen, daemon=True, name="shim-events")
        self._listener.start()
        self.reconcile()

    def close(self) -> None:
        self._closed = True

    def reconcile(self) -> None:
        from darse.engine import reclaim

        live = {c["id"]: c for c in self.shim.call("list")["containers"]}
        reclaim.half_made(self, live)
        exits_dir = os.path.join(self.config.exec_root, "exits")
        for doc in self.containers.shared():
            if not doc["State"]["Running"]:
                continue
            info = live.get(doc["Id"])
            if info and info["running"]:
                networking.readopt(self, doc)
                self.health.resume(doc)
                continue
            if info:
                self._on_exit(doc["Id"], info["exit_code"], info["finished_at"])
                continue
            path = os.path.join(exits_dir, doc["Id"])
            if os.path.exists(path):
                with open(path) as f:
                    rec = json.load(f)
                self._on_exit(doc["Id"], rec["exit_code"], rec["finished_at"])
            else:
                self._on_exit(doc["Id"], 255, now())
        # Namespaces pinned for containers that are gone (a crash, a reboot of darse).
        running = {d["Id"] for d in self.containers.shared() if d["State"]["Running"]}
        if os.path.isdir(self.networks.netns_dir):
            for name in os.listdir(self.networks.netns_dir):
                if name not in running:
                    from darse.network import netns as netns_files

                    netns_files.delete(os.path.join(self.networks.netns_dir, name))

    def _listen(self) -> None:
        from darse.engine import shimwatch

        first = True
        while not self._closed:
            try:
                sock = self.shim.connect()
                sock.sendall(b'{"op": "events"}\n')
                if not first:  # a new shim: what ended while none was there
                    shimwatch.resync(self)
                first = False
                buf = b""
                while not self._closed:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        event = json.loads(line)
                        if event.get("event") == "exit":
                            self._dispatch_exit(event)
            except OSError:
                pass
            if not self._closed:
                time.sleep(0.2)
                try:
                    self.shim.ensure_running()
                except DarseError:
                    pass

    def _dispatch_exit(self, event: dict[str, Any]) -> None:
        key = event["id"]
        try:
            if "/" in key:
                exec_id = key.split("/", 1)[1]
                with self._lock:
                    if exec_id in self.execs:
                        self.execs[exec_id].update(Running=False, ExitCode=event["exit_code"])
                        self.execs[exec_id]["done"].set()
            else:
                self._on_exit(key, event["exit_code"], event["finished_at"],
                              event.get("pid") or 0)
        except Exception:  # noqa: BLE001 - the listener must go on
            import traceback

            traceback.print_exc()

    # --- helpers ---------------------------------------------------------------

    def _dir(self, container_id: str) -> str:
        return os.path.join(self.containers_dir, container_id)

    def _image_users(self, image_id: str) -> list[tuple[str, bool]]:
        return [(d["Id"], d["State"]["Running"]) for d in self.containers.shared()
                if d["Image"] == image_id]

    def _layers_in_use(self) -> set[str]:
        out: set[str] = set()
        for d in self.containers.shared():
            try:
                out.update(self.images.chain(d["Image"]))
            except DarseError:
                continue
        return out

    def _event(self, doc: dict[str, Any], action: str, **attrs: str) -> None:
        image = doc["Config"].get("Image", "")
        labels = doc["Config"].get("Labels") or {}  # dockerd's: the labels go along
        self.events.emit("container", action, doc["Id"],
                         {**labels, "image": image, "name": doc["Name"].lstrip("/"), **attrs},
                         image)

    # --- create ----------------------------------------------------------------

    def create(self, body: dict[str, Any], name: str | None = None) -> dict[str, Any]:
        """POST /containers/create: validate everything, then record; nothing half-made."""
        body = copy.deepcopy(body)
        host_config = body.pop("HostConfig", None) or {}
        networking_config = body.pop("NetworkingConfig", None)
        config = body
        if not config.get("Image"):
            raise InvalidArgument("No image specified")
        image_id = self.images.resolve(config["Image"])
        image_config = self.images.config(image_id).get("config") or {}
        if name:
            name = names.validate(name)
        else:
            name = names.generate(self.containers.names())
        merged = self._merge_config(config, image_config)
        healthchecks.merge(merged, image_config)
        healthchecks.validate(merged)
        path_args = (merged.get("Entrypoint") or []) + (merged.get("Cmd") or [])
        if not path_args:
            raise InvalidArgument("No command specified")
        networking.check_container_mode(self, host_config.get("NetworkMode") or "")
        nets = networking.prepare(self, host_config, networking_config)
        spec.validate(host_config)  # capabilities, sysctls, devices: refused before recording
        run_limits.validate(self, host_config)
        run_limits.links.register(self, host_config, name)
        host_config["LogConfig"] = logdrivers.resolve(
            host_config.get("LogConfig"), self.config.log_driver, self.config.log_opts)
        # "runc" names the default OCI runtime in Docker's API (compose files and clients
        # ask it by name): here it is darse-runtime, which `info` says (docs/design.md).
        if host_config.get("Runtime") not in (None, "", "darse-runtime", "runc"):
            raise InvalidArgument(f"unknown or invalid runtime name: {host_config['Runtime']}")
        if host_config.get("RestartPolicy", {}).get("Name", "") not in (
                "", "no", "always", "unless-stopped", "on-failure"):
            raise InvalidArgument("invalid restart policy: "
                                  f"{host_config['RestartPolicy']['Name']}")
        if host_config.get("AutoRemove") and host_config.get("RestartPolicy", {}).get(
                "Name", "no") not in ("", "no"):
            raise InvalidArgument("can't create 'AutoRemove' container with restart policy")
        self.containers.check_name(name)  # before anything is made for it
        specs = mounts.prepare(self, merged, host_config, image_config)
        container_id = secrets.token_hex(32)
        cdir = self._dir(container_id)
        host_config.setdefault("RestartPolicy", {"Name": "no", "MaximumRetryCount": 0})
        from darse.engine.update import memory_defaults

        memory_defaults(host_config)
        complete_host_config(host_config)
        merged["Hostname"] = merged.get("Hostname") or container_id[:12]  # "" from docker
        doc = {
            "Id": container_id, "Created": now(), "Path": path_args[0], "Args": path_args[1:],
            "State": new_state(), "Image": image_id,
            "ResolvConfPath": os.path.join(cdir, "resolv.conf"),
            "HostnamePath": os.path.join(cdir, "hostname"),
            "HostsPath": os.path.join(cdir, "hosts"),
            "LogPath": logdrivers.log_path(cdir, container_id, host_config["LogConfig"]),
            "Name": "/" + name, "RestartCount": 0, "Driver": "overlay2", "Platform": "linux",
            "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "", "ExecIDs": None,
            "HostConfig": host_config, "Mounts": mounts.mount_points(self, specs),
            mounts.INTERNAL: specs,
            networking.INTERNAL: nets,
            "GraphDriver": {"Name": "overlay2", "Data": {
                "MergedDir": os.path.join(cdir, "rootfs"),
                "UpperDir": os.path.join(cdir, "upper"),
                "WorkDir": os.path.join(cdir, "work")}},
            "Config": merged,
            "NetworkSettings": self._network_settings(host_config["NetworkMode"], nets),
        }
        try:
            self.containers.add(doc)  # the name conflict check and the record, atomically
        except DarseError:
            mounts.remove_anonymous(self, doc)  # what prepare() made for nothing
            raise
        try:
            # A remapped root walks to its rootfs and /etc files through its group.
            os.mkdir(cdir, dataroot.TRAVERSE)
            os.chown(cdir, 0, self.remap.gid if self.remap is not None else 0)
            os.chmod(cdir, dataroot.TRAVERSE)
            for sub in ("upper", "work", "rootfs"):
                os.mkdir(os.path.join(cdir, sub), 0o755)
                if self.remap is not None:
                    os.chown(os.path.join(cdir, sub), self.remap.uid, self.remap.gid)
            self._write_etc(doc)
        except BaseException:
            self.containers.remove(container_id)
            shutil.rmtree(cdir, ignore_errors=True)
            raise
        self._fresh.add(container_id)
        self._event(doc, "create")
        return {"Id": container_id, "Warnings": run_limits.warnings(host_config)}

    @staticmethod
    def _merge_config(config: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
        out = dict(config)
        if out.get("Entrypoint") is None or out.get("Entrypoint") == []:
            if out.get("Entrypoint") is None:
                out["Entrypoint"] = image.get("Entrypoint")
            if not out.get("Cmd") and out.get("Entrypoint") == image.get("Entrypoint"):
                out["Cmd"] = image.get("Cmd")
        elif not out.get("Cmd"):
            out["Cmd"] = None
        if isinstance(out.get("Cmd"), str):
            out["Cmd"] = [out["Cmd"]]
        if isinstance(out.get("Entrypoint"), str):
            out["Entrypoint"] = [out["Entrypoint"]]
        env: dict[str, str] = {}
        if not any(e.startswith("PATH=") for e in (image.get("Env") or []) +
                   (config.get("Env") or [])):
            env["PATH"] = spec.DEFAULT_PATH.split("=", 1)[1]  # first, as containerd puts it
        # A bare `KEY` is kept as sent (dockerd does): the client resolved it already,
        # and the daemon's own environment is none of the container's business.
        for item in (image.get("Env") or []) + (config.get("Env") or []):
            key, sep, value = item.partition("=")
            env[key] = value if sep else None
        out["Env"] = [k if v is None else f"{k}={v}" for k, v in env.items()]
        for key in ("WorkingDir", "User", "StopSignal"):
            if not out.get(key) and image.get(key):
                out[key] = image[key]
        labels = dict(image.get("Labels") or {})
        labels.update(config.get("Labels") or {})
        out["Labels"] = labels
        ports = dict(image.get("ExposedPorts") or {})
        ports.update(config.get("ExposedPorts") or {})
        if ports:
            out["ExposedPorts"] = ports
        volumes = dict(image.get("Volumes") or {})
        volumes.update(config.get("Volumes") or {})
        out["Volumes"] = volumes or None
        for key, default in (("AttachStdin", False), ("AttachStdout", False),
                             ("AttachStderr", False), ("Tty", False), ("OpenStdin", False),
                             ("StdinOnce", False), ("Domainname", ""), ("User", ""),
                             ("WorkingDir", ""), ("OnBuild", None)):
            out.setdefault(key, default)
        out["Image"] = config["Image"]
        return out

    def _network_settings(self, mode: str, nets: list[dict[str, Any]]) -> dict[str, Any]:
        wanted = nets or ([{"Name": mode}] if mode in ("host", "none") else [])
        networks = {w["Name"]: networking.created_settings(w) for w in wanted}
        return {"Bridge": "", "SandboxID": "", "SandboxKey": "", "Ports": {},
                "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
                "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
                "EndpointID": "", "Gateway": "", "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0, "IPAddress": "", "IPPrefixLen": 0,
                "IPv6Gateway": "", "MacAddress": "", "Networks": networks}

    def _write_etc(self, doc: dict[str, Any]) -> None:
        cdir = self._dir(doc["Id"])
        hc, cfg = doc["HostConfig"], doc["Config"]
        host_net = hc.get("NetworkMode") == "host"
        hostname = os.uname().nodename if host_net else cfg["Hostname"]
        etc_files.write(cdir, "hostname", hostname + "\n")
        etc_files.write(cdir, "hosts", etc_files.hosts(hostname, cfg.get("Domainname", ""),
                                                       hc.get("ExtraHosts") or []))
        etc_files.write(cdir, "resolv.conf", etc_files.resolv_conf(
            hc.get("Dns") or self.config.dns, hc.get("DnsSearch") or self.config.dns_search,
            hc.get("DnsOptions") or self.config.dns_opts, host_net))

    # --- start -----------------------------------------------------------------

    def start(self, ref: str) -> bool:
        """Returns False when it was already running (the API's 304)."""
        with self._clocks.hold(self.containers.find(ref)["Id"]):
            doc = self.containers.find(ref)
            if doc["State"]["Running"]:
                if doc["State"]["Paused"]:
                    raise Conflict("cannot start a paused container, try unpause instead")
                return False
            self._start(doc)
            return True

    def _start(self, doc: dict[str, Any]) -> None:
        cid = doc["Id"]
        cdir = self._dir(cid)
        rootfs = os.path.join(cdir, "rootfs")
        if cid not in self._fresh:  # (a crash's are reclaim.half_made's, at darsed's start)
            self.shim.call("delete", id=cid)  # leftovers of a previous run
        self._fresh.discard(cid)
        self._mount_rootfs(doc)
        try:
            cfg, hc = doc["Config"], doc["HostConfig"]
            user = users.resolve(rootfs, cfg.get("User") or "")
            users.add_groups(user, rootfs, hc.get("GroupAdd"))
            if cfg.get("WorkingDir"):
                # As dockerd: a missing working directory is made (mkdir -p) at start,
                # inside the rootfs whatever links the image has on the way.
                from darse.fs.root import Root

                with Root(rootfs) as root:
                    root.makedirs(cfg["WorkingDir"])
            mode = hc.get("NetworkMode", "bridge")
            netns: str | None = networking.start(self, doc)
            if mode == "host":
                netns = "host"
            elif mode.startswith("container:"):
                other = self.containers.find(mode.split(":", 1)[1])
                if not other["State"]["Running"]:
                    raise Conflict(f"cannot join network of a non running container: "
                                   f"{other['Id']}")
                netns = f"/proc/{other['State']['Pid']}/ns/net"
            extra = mounts.oci_mounts(self, doc, rootfs)
            env = environ.process_env(doc, rootfs, int(user["uid"]), bool(cfg.get("Tty")))
            args = [doc["Path"], *doc["Args"]]
            if inits.wanted(hc, self.config.init):
                args, extra = inits.wrap(args, extra)
            oci = spec.build(container_id=cid, config=cfg, host_config=hc, rootfs=rootfs,
                             container_dir=cdir, args=args,
                             env=env, user=user, netns=netns, extra_mounts=extra)
            run_limits.apply(self, oci, hc, cid)
            if self.remap is not None and hc.get("UsernsMode") != "host":
                uid_maps, gid_maps = self.remap.mappings()
                oci["linux"]["namespaces"].append({"type": "user"})
                oci["linux"]["uidMappings"], oci["linux"]["gidMappings"] = uid_maps, gid_maps
            dataroot.write_private(os.path.join(cdir, "config.json"), json.dumps(oci).encode())
            log = hc.get("LogConfig", {}).get("Config") or {}
            self.shim.call("create", id=cid, bundle=cdir, tty=bool(cfg.get("Tty")),
                           stdin=bool(cfg.get("OpenStdin")), log_path=doc["LogPath"],
                           log_max_size=parse_size(log["max-size"]) if log.get("max-size")
                           else DEFAULT_MAX_SIZE,
                           log_max_file=int(log.get("max-file") or DEFAULT_MAX_FILE),
                           log_attrs=logdrivers.attributes(doc) or None)
            pid = self.shim.call("start", id=cid)
        except DarseError as exc:
            self._unmount_rootfs(cid)
            mounts.release(self, doc)
            networking.stop(self, doc)
            doc["State"].update(Error=str(exc), ExitCode=_exit_code_for(str(exc)))
            self.containers.save(doc)
            if doc["HostConfig"].get("AutoRemove"):
                self._remove(doc)  # as docker: an --rm container that cannot start goes
            raise
        except BaseException:
            self._unmount_rootfs(cid)
            mounts.release(self, doc)
            networking.stop(self, doc)
            raise
        # The shim answers start with the pid (a shim from before, with nothing: list).
        # Listing reads every container's state, which made each start O(containers).
        pid = pid.get("pid") or {c["id"]: c for c in self.shim.call("list")["containers"]
                                 }.get(cid, {}).get("pid", 0)
        doc["State"].update(Status="running", Running=True, Paused=False, Restarting=False,
                            OOMKilled=False, Dead=False, Pid=pid, ExitCode=0, Error="",
                            StartedAt=now(), FinishedAt=ZERO_TIME)
        self._stopping.discard(cid)
        self.health.started(doc)
        self.containers.save(doc)
        self._event(doc, "start")

    def _mount_rootfs(self, doc: dict[str, Any]) -> None:
        cdir = self._dir(doc["Id"])
        target = os.path.join(cdir, "rootfs")
        if os.path.ismount(target):
            return
        chain = self.images.chain(doc["Image"])
        if not chain:
            raise SystemFailure("image has no layers")
        lowers = None
        if self.remap is not None:
            lowers = [self._remapped_layer(c) for c in chain]
        self.images.snapshots.mount(chain, target, os.path.join(cdir, "upper"),
                                    os.path.join(cdir, "work"), lowers=lowers)

    def _drop_remapped_layer(self, chain_id: str) -> None:
        if self.remap is not None:
            shutil.rmtree(os.path.join(self.config.data_root, f"remap-{self.remap.tag}",
                                       chain_id.split(":", 1)[1]), ignore_errors=True)

    def _remapped_layer(self, chain_id: str) -> str:
        from darse.engine import remap

        path = os.path.join(self.config.data_root, f"remap-{self.remap.tag}",
                            chain_id.split(":", 1)[1])
        if not os.path.isdir(path):
            with self._lock:
                if not os.path.isdir(path):
                    remap.shifted_copy(self.images.snapshots.diff(chain_id), path, self.remap)
        return path

    def _unmount_rootfs(self, container_id: str) -> None:
        target = os.path.join(self._dir(container_id), "rootfs")
        if os.path.ismount(target):
            try:
                syscalls.umount2(target, syscalls.MNT_DETACH)
            except OSError:
                pass

    # --- exits -----------------------------------------------------------------

    def _on_exit(self, container_id: str, code: int, finished_at: str, pid: int = 0) -> None:
        with self._clocks.hold(container_id):
            doc = self.containers.get(container_id)
            if doc is None or not doc["State"]["Running"] or (
                    pid and doc["State"]["Pid"] not in (0, pid)):  # another run's end
                return
            try:  # the supervisor deletes while the rootfs is unmounted here
                deleted = self.shim.send("delete", id=container_id)
            except OSError:
                deleted = None
            self._unmount_rootfs(container_id)
            try:
                if deleted is not None:
                    deleted()
            except (DarseError, OSError):
                pass
            mounts.release(self, doc)
            networking.stop(self, doc)
            doc["State"].update(Status="exited", Running=False, Paused=False, Pid=0,
                                ExitCode=code, FinishedAt=finished_at or now())
            self.health.stopped(doc)
            self.containers.save(doc)
            self._event(doc, "die", exitCode=str(code))
            stopped_by_user = container_id in self._stopping
            if doc["HostConfig"].get("AutoRemove"):
                self._remove(doc, released=True)
                mounts.remove_anonymous(self, doc)
                return
        self.restarts.after_exit(container_id, code, stopped_by_user)

    # --- stop, kill, wait, restart -----------------------------------------------

    def kill(self, ref: str, signal: str | int = "SIGKILL") -> None:
        doc = self.containers.find(ref)
        sig = signals.parse_signal(signal)
        if self.restarts.cancel(doc["Id"]):
            return
        if not doc["State"]["Running"]:
            raise Conflict(f"Cannot kill container: {ref}: Container {doc['Id']} is not running")
        if sig in (9, 15):
            self._stopping.add(doc["Id"])
        try:
            self.shim.call("kill", id=doc["Id"], signal=sig)
        except (NotFound, Conflict):  # it ended before the shim's report of it came in
            raise Conflict(f"Cannot kill container: {ref}: Container {doc['Id']} is not "
                           "running") from None
        self._event(doc, "kill", signal=str(sig))
        if sig == 9:  # as dockerd: back once it is dead (a frozen one thawed to die)
            if doc["State"]["Paused"]:
                self.shim.call("pause", id=doc["Id"], pause=False)
            self._wait_exit(doc["Id"], 30)

    def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> bool:
        """Stop signal, then SIGKILL after the timeout; False if it was not running."""
        from darse.engine import stopping

        return stopping.stop(self, ref, timeout, signal)

    def _wait_exit(self, container_id: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.containers.changed:
            while True:
                doc = self.containers.get(container_id)
                if doc is None or not doc["State"]["Running"]:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.containers.changed.wait(min(left, 0.5))

    def wait(self, ref: str, condition: str = "not-running",
             abort: threading.Event | None = None) -> dict[str, Any]:
        doc = self.containers.find(ref)
        cid = doc["Id"]
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidArgument(f"invalid condition: \"{condition}\"")
        finished = doc["State"]["FinishedAt"]
        with self.containers.changed:
            while True:
                cur = self.containers.get(cid)
                if cur is None:
                    code = self._removed_exits.get(cid, doc["State"]["ExitCode"])
                    return {"StatusCode": code, "Error": None}
                doc = cur
                if condition == "not-running" and not doc["State"]["Running"]:
                    break
                if condition == "next-exit" and not doc["State"]["Running"] and \
                        doc["State"]["FinishedAt"] != finished:
                    break
                if abort is not None and abort.is_set():
                    return {"StatusCode": -1, "Error": {"Message": "aborted"}}
                self.containers.changed.wait(0.5)
        return {"StatusCode": doc["State"]["ExitCode"], "Error": None}

    def restart(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        from darse.engine import stopping

        doc = self.containers.find(ref)
        self.stop(doc["Id"], timeout, signal)
        stopping.start_again(self, doc["Id"])

    def pause(self, ref: str, pause: bool = True) -> None:
        doc = self.containers.find(ref)
        if not doc["State"]["Running"]:
            raise Conflict(f"Container {doc['Id']} is not running")
        if pause and doc["State"]["Paused"]:
            raise Conflict(f"Container {doc['Id']} is already paused")
        if not pause and not doc["State"]["Paused"]:
            raise Conflict(f"Container {doc['Id']} is not paused")
        try:
            self.shim.call("pause", id=doc["Id"], pause=pause)
        except (NotFound, Conflict):  # it ended before the shim's report of it came in
            raise Conflict(f"Container {doc['Id']} is not running") from None
        doc["State"].update(Paused=pause, Status="paused" if pause else "running")
        self.containers.save(doc)
        self._event(doc, "pause" if pause else "unpause")

    # --- remove, rename, prune -----------------------------------------------

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        doc = self.restarts.before_remove(self.containers.find(ref), force)
        if doc["State"]["Running"]:
            if not force:
                raise Conflict(f"You cannot remove a running container {doc['Id']}. Stop the "
                               "container before attempting removal or force remove")
            # rm -f kills at once, as docker does.
            self._stopping.add(doc["Id"])
            try:
                self.shim.call("kill", id=doc["Id"], signal=9, all=True)
            except DarseError:
                pass
            exited = self._wait_exit(doc["Id"], 10)  # _on_exit deleted and unmounted it
        else:
            exited = False
        with self._clocks.hold(doc["Id"]):
            doc = self.containers.get(doc["Id"]) or doc
            self._remove(doc, released=exited and not doc["State"]["Running"])
            if volumes:
                mounts.remove_anonymous(self, doc)

    def _remove(self, doc: dict[str, Any], released: bool = False) -> None:
        cid = doc["Id"]
        if not released:  # _on_exit has just deleted and unmounted it
            try:
                self.shim.call("delete", id=cid)
            except (DarseError, OSError):
                pass
            self._unmount_rootfs(cid)
        networking.stop(self, doc)
        self._removed_exits[cid] = doc["State"]["ExitCode"]
        self.containers.remove(cid)
        trash.remove_later(self._dir(cid))
        self._stopping.discard(cid)
        self._fresh.discard(cid)
        self._clocks.forget(cid)
        self.restarts.forget(cid)
        with self._lock:  # its execs go with it, as dockerd's
            for exec_id in [e for e, x in self.execs.items() if x["ContainerID"] == cid]:
                del self.execs[exec_id]
        self._event(doc, "destroy")

    # --- volumes (the store is darse.volume's; who uses what is known here) ---------

    def volume_remove(self, name: str, force: bool = False) -> None:
        self.volumes.remove(name, mounts.users(self).get(name, []), force)

    def volume_list(self, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        return self.volumes.list(filters, mounts.users(self))

    def volume_prune(self, filters: dict[str, list[str]] | None = None,
                     api_version: tuple[int, int] = (1, 47)) -> dict[str, Any]:
        return prune.volumes(self, filters, api_version)

    # --- networks ---------------------------------------------------------------

    def network_list(self) -> list[dict[str, Any]]:
        return [networking.network_view(self, n) for n in self.networks.all()]

    def network_inspect(self, ref: str) -> dict[str, Any]:
        return networking.network_view(self, self.networks.find(ref))

    def network_remove(self, ref: str) -> None:
        net = self.networks.find(ref)
        self.networks.remove(ref, networking.users(self, net))
        self.events.emit("network", "destroy", net["Id"], {"name": net["Name"],
                                                            "type": net["Driver"]})

    def network_connect(self, ref: str, container: str, ip: str | None = None,
                        aliases: list[str] = (), endpoint: dict[str, Any] | None = None
                        ) -> None:
        net = self.networks.find(ref)
        if net["Name"] in ("host", "none"):
            raise Conflict("container cannot be disconnected from host network or connected "
                           "to host network")
        with self._clocks.hold(self.containers.find(container)["Id"]):
            doc = self.containers.find(container)
            networking.connect(self, doc, net, ip, list(aliases), endpoint)
            self.containers.save(doc)
        self.events.emit("network", "connect", net["Id"], {"container": doc["Id"],
                                                            "name": net["Name"]})

    def network_disconnect(self, ref: str, container: str, force: bool = False) -> None:
        net = self.networks.find(ref)
        with self._clocks.hold(self.containers.find(container)["Id"]):
            doc = self.containers.find(container)
            networking.disconnect(self, doc, net)
            self.containers.save(doc)
        self.events.emit("network", "disconnect", net["Id"], {"container": doc["Id"],
                                                               "name": net["Name"]})

    def network_prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        return prune.networks(self, filters)

    def rename(self, ref: str, new_name: str) -> None:
        doc = self.containers.find(ref)
        try:
            new_name = names.validate(new_name)
        except InvalidArgument:  # dockerd's words at rename
            raise InvalidArgument(f"Error when allocating new name: Invalid container name "
                                  f"(/{new_name.lstrip('/')}), only [a-zA-Z0-9]"
                                  "[a-zA-Z0-9_.-] are allowed") from None
        if new_name == doc["Name"].lstrip("/"):
            raise Conflict("Renaming a container with the same name as its current name")
        if new_name in self.containers.names():
            other = self.containers.find(new_name)
            raise Conflict(f'Conflict. The container name "/{new_name}" is already in use by '
                           f'container "{other["Id"]}". You have to remove (or rename) that '
                           "container to be able to reuse that name.")
        doc["Name"] = "/" + new_name
        self.containers.save(doc)
        self._event(doc, "rename")

    def prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        return prune.containers(self, filters)

    # --- views -------------------------------------------------------------------

    def inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        from darse.engine.views import rw_size

        doc = self.containers.find(ref)
        if size:
            doc["SizeRw"] = rw_size(doc)
            doc["SizeRootFs"] = doc["SizeRw"] + self.images.size(doc["Image"])
        doc["ExecIDs"] = [e for e, x in self.execs.items() if x["ContainerID"] == doc["Id"]] \
            or None
        doc.pop(mounts.INTERNAL, None)
        doc.pop(networking.INTERNAL, None)
        for ep in (doc["NetworkSettings"].get("Networks") or {}).values():
            ep.pop("HostInterface", None)
        return doc

    def list(self, all: bool = False, filters: dict[str, list[str]] | None = None,
             limit: int = -1, size: bool = False) -> list[dict[str, Any]]:
        from darse.engine.views import summaries

        return summaries(self, all, filters, limit, size)

    def top(self, ref: str, ps_args: str = "-ef") -> dict[str, Any]:
        from darse.engine.top import top

        return top(self, ref, ps_args)

    def export(self, ref: str, out: Any) -> None:
        """docker export: the container's filesystem as a tar (mounted for the time)."""
        with self._clocks.hold(self.containers.find(ref)["Id"]):
            doc = self.containers.find(ref)
            mounted_here = not doc["State"]["Running"]
            if mounted_here:
                self._mount_rootfs(doc)
        # Read through darse.fs: a running container may swap its files for links.
        from darse.fs.root import Root
        from darse.fs.tarball import write_tar

        try:
            with Root(os.path.join(self._dir(doc["Id"]), "rootfs")) as root:
                write_tar(root, (), out)
        finally:
            if mounted_here and not self.is_running(doc["Id"]):
                self._unmount_rootfs(doc["Id"])

    def log_path(self, ref: str) -> tuple[dict[str, Any], str]:
        doc = self.containers.find(ref)
        return doc, doc["LogPath"]

    def is_running(self, container_id: str) -> bool:
        doc = self.containers.get(container_id)
        return bool(doc and doc["State"]["Running"])

    # --- exec (darse.engine.exec) --------------------------------------------------

    def exec_create(self, ref: str, body: dict[str, Any]) -> str:
        return execs.create(self, ref, body)

    def exec_process(self, exec_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(exec record, OCI process) to run; the caller starts it through the shim."""
        return execs.process(self, exec_id)

    def exec_started(self, exec_id: str, pid: int) -> None:
        execs.started(self, exec_id, pid)

    def exec_finished(self, exec_id: str, code: int) -> None:
        execs.finished(self, exec_id, code)

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        return execs.inspect(self, exec_id)

    # --- for the API's streams -------------------------------------------------

    def on_change(self, fn: Callable[[str], None]) -> None:
        """fn(container id) after each write of a container's record, from any thread."""
        self.containers.watchers.append(fn)


def _exit_code_for(message: str) -> int:
    """What docker run exits with when the container cannot start (docker CLI's rule)."""
    if "executable file not found" in message or "no such file or directory" in message:
        return 127
    if "permission denied" in message.lower() or "is a directory" in message:
        return 126
    return 128

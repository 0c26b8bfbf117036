"""Pod networking through CNI, as containerd and CRI-O do it: the first network
configuration list in the conf dir (*.conflist, or a single-plugin *.conf), its plugins
run in order on the pod's network namespace (ADD, each given the previous one's result),
and in reverse order at stop (DEL). A cluster's network plugin installs its conflist and
binaries, and works unchanged; without one, pods have only their loopback.

The plugins are the standard executables (Debian: containernetworking-plugins, in
/usr/lib/cni), run with the CNI_* environment and the configuration on stdin."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from darse.errors import DarseError, SystemFailure

DEFAULT_CONF_DIR = "/etc/cni/net.d"
DEFAULT_BIN_DIRS = ("/usr/lib/cni", "/opt/cni/bin")
IFNAME = "eth0"
TIMEOUT = 60


class CniError(DarseError):
    """A plugin failed (its code and message, as the CNI spec's error result gives them)."""


class Cni:
    def __init__(self, conf_dir: str = DEFAULT_CONF_DIR,
                 bin_dirs: tuple[str, ...] = DEFAULT_BIN_DIRS) -> None:
        self.conf_dir, self.bin_dirs = conf_dir, bin_dirs

    def network(self) -> dict[str, Any] | None:
        """The configuration list in force (read at each pod: a plugin may install it
        after darsed started), or None when there is none."""
        try:
            names = sorted(os.listdir(self.conf_dir))
        except OSError:
            return None
        for name in names:
            if not name.endswith((".conflist", ".conf", ".json")):
                continue
            try:
                with open(os.path.join(self.conf_dir, name)) as f:
                    conf = json.load(f)
            except (OSError, ValueError):
                continue  # as containerd: an unreadable file is skipped
            if not isinstance(conf, dict):
                continue
            if "plugins" not in conf:  # a single plugin's .conf
                conf = {"cniVersion": conf.get("cniVersion", "0.4.0"),
                        "name": conf.get("name", ""), "plugins": [conf]}
            if conf.get("name") and conf.get("plugins"):
                return conf
        return None

    def _plugin(self, kind: str) -> str:
        if "/" in kind or not kind:
            raise CniError(f"invalid CNI plugin type {kind!r}")
        for d in self.bin_dirs:
            path = os.path.join(d, kind)
            if os.access(path, os.X_OK):
                return path
        raise CniError(f"failed to find plugin {kind!r} in path {list(self.bin_dirs)}")

    def _run(self, command: str, net: dict[str, Any], plugin: dict[str, Any],
             sandbox_id: str, netns: str, args: dict[str, str],
             runtime_config: dict[str, Any], prev: dict[str, Any] | None
             ) -> dict[str, Any] | None:
        conf = dict(plugin, name=net["name"], cniVersion=net.get("cniVersion", "0.4.0"))
        caps = {k for k, on in (plugin.get("capabilities") or {}).items() if on}
        wanted = {k: v for k, v in runtime_config.items() if k in caps}
        if wanted:
            conf["runtimeConfig"] = wanted
        if prev is not None:
            conf["prevResult"] = prev
        env = {"CNI_COMMAND": command, "CNI_CONTAINERID": sandbox_id, "CNI_NETNS": netns,
               "CNI_IFNAME": IFNAME, "CNI_PATH": ":".join(self.bin_dirs),
               "CNI_ARGS": ";".join(f"{k}={v}" for k, v in args.items()),
               "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        try:
            done = subprocess.run([self._plugin(plugin.get("type", ""))],
                                  input=json.dumps(conf).encode(), capture_output=True,
                                  env=env, timeout=TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise CniError(f"CNI plugin {plugin.get('type')} {command} timed out") from None
        except OSError as exc:
            raise SystemFailure(f"CNI plugin {plugin.get('type')}: {exc}") from None
        out = done.stdout.strip()
        result = None
        if out:
            try:
                result = json.loads(out)
            except ValueError:
                result = None
        if done.returncode != 0:
            why = (result or {}).get("msg") or done.stderr.decode(errors="replace").strip() \
                or f"exit status {done.returncode}"
            details = (result or {}).get("details")
            raise CniError(f"plugin type={plugin.get('type')!r} failed ({command.lower()}): "
                           f"{why}" + (f": {details}" if details else ""))
        return result

    def add(self, net: dict[str, Any], sandbox_id: str, netns: str, args: dict[str, str],
            runtime_config: dict[str, Any]) -> dict[str, Any]:
        """The last plugin's result; what was added is deleted again if a plugin fails."""
        result: dict[str, Any] | None = None
        for plugin in net["plugins"]:
            try:
                result = self._run("ADD", net, plugin, sandbox_id, netns, args,
                                   runtime_config, result) or result
            except DarseError:
                self.delete(net, sandbox_id, netns, args, runtime_config, result)
                raise
        return result or {}

    def delete(self, net: dict[str, Any], sandbox_id: str, netns: str, args: dict[str, str],
               runtime_config: dict[str, Any], result: dict[str, Any] | None) -> None:
        """Every plugin's DEL, last first; each is tried whatever the others did (DEL
        must be idempotent, and a pod goes even if one of them fails)."""
        failure: DarseError | None = None
        for plugin in reversed(net["plugins"]):
            try:
                self._run("DEL", net, plugin, sandbox_id, netns, args, runtime_config,
                          result)
            except DarseError as exc:
                failure = failure or exc
        if failure is not None:
            raise failure


def pod_ips(result: dict[str, Any]) -> list[str]:
    """The pod's addresses, from a 0.3+ result (ips[].address) or a 0.2 one (ip4.ip)."""
    out = [ip["address"].split("/")[0] for ip in result.get("ips") or [] if ip.get("address")]
    for key in ("ip4", "ip6"):
        if (result.get(key) or {}).get("ip"):
            out.append(result[key]["ip"].split("/")[0])
    return out


def port_mappings(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod's hostPorts, as the portmap plugin takes them (capability portMappings)."""
    out = []
    for pm in config.get("port_mappings") or []:
        if not pm.get("host_port"):
            continue
        out.append({"hostPort": int(pm["host_port"]),
                    "containerPort": int(pm.get("container_port", 0)),
                    "protocol": pm.get("protocol", "TCP").lower(),
                    "hostIP": pm.get("host_ip", "")})
    return out

"""Network commands: ls, inspect, create, rm, connect, disconnect, prune."""

from __future__ import annotations

import sys

from darse.cli import Parser
from darse.cli.client import APIError, Client
from darse.cli.common import confirm, filters_query, inspect_each, print_pruned
from darse.cli.output import render


def _pairs(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        k, _, v = item.partition("=")
        out[k] = v
    return out


def ls(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse network ls")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-f", "--filter", action="append", default=[])
    p.add_argument("--format")
    p.add_argument("--no-trunc", action="store_true")
    args = p.parse_args(argv)
    nets = client.json("GET", "/networks", {"filters": filters_query(args.filter)})
    items = [{"ID": n["Id"] if args.no_trunc else n["Id"][:12], "Name": n["Name"],
              "Driver": n["Driver"], "Scope": n["Scope"], "Internal": n["Internal"]}
             for n in sorted(nets, key=lambda n: n["Name"])]
    render(args.format, [("NETWORK ID", "ID"), ("NAME", "Name"), ("DRIVER", "Driver"),
                         ("SCOPE", "Scope")], items, "ID", args.quiet)
    return 0


def inspect(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse network inspect")
    p.add_argument("-f", "--format")
    p.add_argument("-v", "--verbose", action="store_true")  # swarm services' details only
    p.add_argument("networks", nargs="+")
    args = p.parse_args(argv)
    return inspect_each(client, args.networks, "/networks/{}", args.format, "network")


def create(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse network create")
    p.add_argument("-d", "--driver", default="bridge")
    for flag in ("--subnet", "--gateway", "--ip-range", "--aux-address"):
        p.add_argument(flag, action="append", default=[])
    p.add_argument("--ipv6", action="store_true")
    p.add_argument("--internal", action="store_true")
    p.add_argument("--attachable", action="store_true")
    p.add_argument("--ingress", action="store_true")
    p.add_argument("--config-only", action="store_true")
    p.add_argument("--config-from")
    p.add_argument("--scope")
    p.add_argument("--ipam-driver", default="default")
    p.add_argument("--ipam-opt", action="append", default=[])
    p.add_argument("--label", action="append", default=[])
    p.add_argument("-o", "--opt", action="append", default=[])
    p.add_argument("name", metavar="NETWORK")
    args = p.parse_args(argv)
    try:
        configs = _ipam_configs(args.subnet, args.ip_range, args.gateway,
                                _pairs(args.aux_address))
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    body = {"Name": args.name, "Driver": args.driver, "Internal": args.internal,
            "EnableIPv6": args.ipv6, "Attachable": args.attachable, "Ingress": args.ingress,
            "ConfigOnly": args.config_only, "Scope": args.scope or "",
            "IPAM": {"Driver": args.ipam_driver, "Config": configs,
                     "Options": _pairs(args.ipam_opt)},
            "Options": _pairs(args.opt), "Labels": _pairs(args.label)}
    if args.config_from:
        body["ConfigFrom"] = {"Network": args.config_from}
    out = client.json("POST", "/networks/create", body=body)
    print(out["Id"])
    return 0


def _ipam_configs(subnets: list[str], ranges: list[str], gateways: list[str],
                  aux: dict[str, str]) -> list[dict]:
    """One IPAM config per --subnet, each --ip-range, --gateway and --aux-address given
    to the subnet that holds it; ValueError in the docker CLI's words."""
    import ipaddress

    def within(subnet: str, text: str) -> bool:
        try:
            return ipaddress.ip_network(text, strict=False).subnet_of(
                ipaddress.ip_network(subnet, strict=False))
        except (ValueError, TypeError):
            return False

    if len(subnets) < len(ranges) or len(subnets) < len(gateways):
        raise ValueError("every ip-range or gateway must have a corresponding subnet")
    configs: dict[str, dict] = {}
    for subnet in subnets:
        if any(within(subnet, s) or within(s, subnet) for s in configs):
            raise ValueError("multiple overlapping subnet configuration is not supported")
        configs[subnet] = {"Subnet": subnet}
    for flag, key, what in ((ranges, "IPRange", "range"), (gateways, "Gateway", "gateway")):
        for value in flag:
            held = [s for s in subnets if within(s, value)]
            if not held:
                raise ValueError(f"no matching subnet for {what} {value}")
            if configs[held[0]].get(key):
                many = "ranges" if key == "IPRange" else "gateways"
                raise ValueError(f"cannot configure multiple {many} ({value}, "
                                 f"{configs[held[0]][key]}) "
                                 f"{'on' if key == 'IPRange' else 'for'} the same subnet "
                                 f"({held[0]})")
            configs[held[0]][key] = value
    for name, value in aux.items():
        held = [s for s in subnets if within(s, value)]
        if not held:
            raise ValueError(f"no matching subnet for aux-address {value}")
        configs[held[0]].setdefault("AuxiliaryAddresses", {})[name] = value
    return list(configs.values())


def rm(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse network rm")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("networks", nargs="+")
    args = p.parse_args(argv)
    code = 0
    for name in args.networks:
        try:
            client.request("DELETE", f"/networks/{name}").read()
            print(name)
        except APIError as exc:
            if not (args.force and exc.status == 404):
                print(exc.shown, file=sys.stderr)
                code = 1
    return code


def connect(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse network connect")
    p.add_argument("--ip")
    p.add_argument("--ip6")
    p.add_argument("--link-local-ip", action="append", default=[])
    p.add_argument("--driver-opt", action="append", default=[])
    p.add_argument("--alias", action="append", default=[])
    p.add_argument("--link", action="append", default=[])
    p.add_argument("network")
    p.add_argument("container")
    args = p.parse_args(argv)
    ep = {"Aliases": args.alias, "DriverOpts": _pairs(args.driver_opt), "Links": args.link}
    if args.ip or args.ip6 or args.link_local_ip:
        ep["IPAMConfig"] = {"IPv4Address": args.ip or "", "IPv6Address": args.ip6 or "",
                            "LinkLocalIPs": args.link_local_ip}
    client.request("POST", f"/networks/{args.network}/connect",
                   body={"Container": args.container, "EndpointConfig": ep}).read()
    return 0


def disconnect(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse network disconnect")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("network")
    p.add_argument("container")
    args = p.parse_args(argv)
    client.request("POST", f"/networks/{args.network}/disconnect",
                   body={"Container": args.container, "Force": args.force}).read()
    return 0


def prune(client: Client, argv: list[str]) -> int:
    p = Parser(prog="darse network prune")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("--filter", action="append", default=[])
    args = p.parse_args(argv)
    if not args.force and not confirm("This will remove all custom networks not used by at "
                                      "least one container."):
        return 0
    out = client.json("POST", "/networks/prune", {"filters": filters_query(args.filter)})
    print_pruned("Networks", out.get("NetworksDeleted") or [], None)
    return 0

#!/usr/bin/env bash
# Install darse on Debian 12, as root: the system packages it and its tests need (docker.io
# for the docker CLI the tests drive darsed with, docker-registry and skopeo as the other
# side of image tests, golang-github-docker-docker-dev for moby's default seccomp
# profile, containernetworking-plugins and catatonit for Kubernetes pods), darse in its own virtual
# environment (/opt/darse/venv; Debian's python3 refuses system-wide pip, PEP 668), its
# commands linked into /usr/local/bin.
# Then darse's main job: a busybox container, from an image made from busybox-static.
set -euo pipefail
cd "$(dirname "$0")"
PREFIX=${DARSE_PREFIX:-/opt/darse}

if [ "$(id -u)" != 0 ]; then
  echo "install.sh: run as root (containers need it)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
had_docker=$(dpkg-query -W -f='${Status}' docker.io 2>/dev/null | grep -c "ok installed" || true)
apt-get update -q
apt-get install -y -q --no-install-recommends \
  python3 python3-venv python3-pip libseccomp2 busybox-static iproute2 nftables procps \
  ca-certificates \
  runc crun docker-registry skopeo golang-github-containers-common docker.io debootstrap \
  golang-github-docker-docker-dev containernetworking-plugins catatonit tini

# docker.io is here for its CLI and for the tests' private dockerd: a dockerd that the
# package itself starts would set the FORWARD policy to DROP and cut darse's bridges.
if [ "$had_docker" = 0 ] && [ -d /run/systemd/system ]; then
  systemctl disable --now docker.service docker.socket >/dev/null 2>&1 || true
fi

/usr/bin/python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install -q --upgrade pip
"$PREFIX/venv/bin/pip" install -q ".[test]"
# `darse` as darse.cli.launcher writes it rather than pip's script: Python without its site
# machinery, 3 ms less on every command.
"$PREFIX/venv/bin/python" -m darse.cli.launcher "$PREFIX/venv/bin/darse"
for cmd in darse darsed darse-runtime; do
  ln -sf "$PREFIX/venv/bin/$cmd" "/usr/local/bin/$cmd"
done

# The systemd units, where systemd runs (the darse CLI starts darsed itself otherwise).
getent group darse >/dev/null || groupadd --system darse
if [ -d /run/systemd/system ]; then
  install -m 0644 contrib/systemd/darse.service contrib/systemd/darse.socket /etc/systemd/system/
  systemctl daemon-reload
  systemctl enable --now darse.socket
fi

# The main job: a busybox image made from Debian's busybox-static (no registry needed),
# then a container from it, through the darse CLI (which starts darsed on first use).
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
"$PREFIX/venv/bin/python" -c 'import sys; from darse.image.busybox import make_rootfs; make_rootfs(sys.argv[1])' "$rootfs"
tar -C "$rootfs" -c . | darse import --change 'CMD ["sh"]' - busybox:latest >/dev/null
darse run --rm --hostname darse-demo busybox \
  sh -c 'echo "hello from a darse container: pid $$, hostname $(hostname), $(ls / | wc -l) entries in /"'

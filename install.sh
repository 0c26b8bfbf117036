#!/usr/bin/env bash
# Install darse on Debian 12, as root: the system packages it and its tests need, darse in
# its own virtual environment (/opt/darse/venv; Debian's python3 refuses system-wide pip,
# PEP 668), its commands linked into /usr/local/bin. Then run darse's main job: a busybox
# container (made from Debian's busybox-static, no registry needed) through darse-runtime.
set -euo pipefail
cd "$(dirname "$0")"
PREFIX=${DARSE_PREFIX:-/opt/darse}

if [ "$(id -u)" != 0 ]; then
  echo "install.sh: run as root (containers need it)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
  python3 python3-venv python3-pip libseccomp2 busybox-static iproute2 nftables procps \
  ca-certificates \
  runc crun docker-registry skopeo golang-github-containers-common

/usr/bin/python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install -q --upgrade pip
"$PREFIX/venv/bin/pip" install -q ".[test]"
for cmd in darse darsed darse-runtime; do
  ln -sf "$PREFIX/venv/bin/$cmd" "/usr/local/bin/$cmd"
done

# The main job: a container with its own pid 1, hostname and root, then gone.
demo=$(mktemp -d)
trap 'rm -rf "$demo"' EXIT
"$PREFIX/venv/bin/python" -m darse.image.busybox "$demo" -- \
  sh -c 'echo "hello from a darse container: pid $$, hostname $(hostname), $(ls / | wc -l) entries in /"'
darse-runtime run --bundle "$demo" "darse-demo-$$"

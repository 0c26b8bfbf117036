"""A busybox root filesystem made from the host's busybox-static (Debian's package).

No registry needed: the fixture image of the test suite and of the install's demo.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from darse.errors import Unavailable

BUSYBOX = "/bin/busybox"
PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
GROUP = "root:x:0:\ndaemon:x:1:\ntty:x:5:\nnogroup:x:65534:\n"


def make_rootfs(dest: str, busybox: str = BUSYBOX) -> None:
    """Fill dest with /bin/busybox, a link per applet, and a minimal /etc."""
    if not os.path.exists(busybox):
        raise Unavailable(f"{busybox} not found: install Debian's busybox-static")
    applets = subprocess.run([busybox, "--list-full"], capture_output=True, text=True,
                             check=True).stdout.split()
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "tmp", "proc", "sys",
              "dev", "var", "home"):
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    os.chmod(os.path.join(dest, "tmp"), 0o1777)
    shutil.copy2(busybox, os.path.join(dest, "bin/busybox"))
    for applet in applets:
        link = os.path.join(dest, applet)
        if applet != "bin/busybox" and not os.path.lexists(link):
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink("/bin/busybox", link)
    for name, text in (("passwd", PASSWD), ("group", GROUP), ("hostname", "busybox\n")):
        with open(os.path.join(dest, "etc", name), "w") as f:
            f.write(text)


def write_bundle(bundle: str, args: list[str], terminal: bool = False) -> None:
    """A runnable OCI bundle: the busybox rootfs and darse-runtime's default config."""
    import json

    from darse.runtime import spec

    make_rootfs(os.path.join(bundle, "rootfs"))
    config = spec.default()
    config["process"]["args"] = args
    config["process"]["terminal"] = terminal
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description="make a busybox OCI bundle from busybox-static")
    p.add_argument("bundle")
    p.add_argument("args", nargs="*", default=["sh"])
    a = p.parse_args()
    write_bundle(a.bundle, a.args)


if __name__ == "__main__":
    main()

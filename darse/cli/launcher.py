"""The `darse` command as install.sh writes it, in place of pip's console script.

pip's script runs Python with its site machinery: site, the venv's .pth files (setuptools'
distutils hack), sitecustomize; 3 ms of every command, a quarter of what `docker ps` takes
in all. This one starts Python isolated and without site (-I -S) and puts darse's
site-packages on sys.path itself; an editable install (darse found through a .pth file)
falls back to the site machinery.

    python -m darse.cli.launcher PATH    # write the launcher for this interpreter at PATH
"""

from __future__ import annotations

import os
import sys
import sysconfig

TEMPLATE = """#!{python} -IS
import sys
sys.path.append({site!r})
try:
    from darse.cli import entry
except ModuleNotFoundError:
    import site
    site.addsitedir({site!r})
    from darse.cli import entry
entry()
"""


def write(path: str, python: str | None = None, site_dir: str | None = None) -> None:
    """Write the launcher at path (replacing any file there, atomically), for python and
    the site-packages folder darse is installed in (this interpreter's by default)."""
    python = python or sys.executable
    site_dir = site_dir or sysconfig.get_path("purelib")
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(TEMPLATE.format(python=python, site=site_dir))
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m darse.cli.launcher PATH")
    write(sys.argv[1])

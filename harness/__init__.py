"""The process harness the tests and the benchmarks share: gunicorn started with the project's
own settings on a port it picks (`gunicorn.py`), and a TCP proxy a test cuts, freezes and
restores to play a server that goes away (`tcp_proxy.py`). Imported from the repository's root:
by pytest, and by the benchmarks run as modules (`python -m bench.walkthrough`)."""

import socket
import subprocess
import sys
import sysconfig
from pathlib import Path

#: The repository's root, where gunicorn.conf.py and wsgi.py are.
REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid`, read from /proc."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name (field 2) may hold spaces; the fields after its ")" do not.
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def scratch_environment(folder: Path, *installed: Path) -> Path:
    """A fresh virtual environment in `folder` holding `installed` (built, not editable, as pip
    and tox install them); its dependencies are the running environment's, without that
    environment's .pth files, so that nothing of this checkout comes along. Its bin folder."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    for project in installed:
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--no-deps", str(project)],
            check=True,
            capture_output=True,
        )
    return folder / "bin"

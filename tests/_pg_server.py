"""A throw-away PostgreSQL server for the tests: a cluster in a temporary folder on a free port.

`.ci/run` installs PostgreSQL from Debian's packages when it is absent. Outside CI, tests that
need the server skip with the reason when no server can be started; inside CI (``CI`` set) they
fail instead, so the PostgreSQL tests can never be skipped silently there.

One cluster serves the whole test process (each caller gets a fresh database on it), so the
server starts once per process, not once per test module.

PostgreSQL refuses to run as root: when the tests run as root, the cluster is created and run as
the ``postgres`` system user (which the Debian package creates), else as ``nobody``.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def _bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found and Path(found).resolve().parent.joinpath("initdb").exists():
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                      key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit()
                      else 0)
    return Path(versions[-1]) if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unavailable(reason: str) -> None:
    """Skip outside CI; fail inside CI."""
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(f"no PostgreSQL server can be started here: {reason}")


class _Cluster:
    """The one cluster of this test process: started on first use, stopped at exit."""

    url: str | None = None
    count = 0


def _stop(bindir: Path, data: Path, root: Path, env: dict[str, str], run_as: dict) -> None:
    subprocess.run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                   capture_output=True, env=env, cwd=root, **run_as)
    shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yield the SQLAlchemy URL of a fresh, empty database on this process's test cluster.

    The cluster (about 3 s to start) is started on the first call and shared by every later
    call in the process (one per pytest-xdist worker); each call gets a database of its own
    (``campus``, then ``campus_2``, ...), dropped when the block ends.
    """
    try:
        import psycopg
    except ImportError:
        unavailable("the psycopg driver is not installed (pip install -e '.[test]')")
    if _Cluster.url is None:
        _Cluster.url = _start()
    _Cluster.count += 1
    name = "campus" if _Cluster.count == 1 else f"campus_{_Cluster.count}"
    base = _Cluster.url
    host_port = base.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    with psycopg.connect(host=host, port=int(port), user="sp", dbname="postgres",
                         autocommit=True) as con:
        con.execute(f'create database "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with contextlib.suppress(Exception), psycopg.connect(
                host=host, port=int(port), user="sp", dbname="postgres", autocommit=True) as con:
            con.execute(f'drop database if exists "{name}" with (force)')


def _start() -> str:
    """Start this process's cluster; return the URL of its ``postgres`` database."""
    bindir = _bindir()
    if bindir is None:
        unavailable("initdb/pg_ctl not found (apt-get install -y postgresql)")
        raise AssertionError("unreachable")  # unavailable() skips or fails
    user = None
    if os.geteuid() == 0:
        for name in ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                user = pwd.getpwnam(name)
                break
        if user is None:
            unavailable("running as root and no unprivileged user to run the server")
    root = Path(tempfile.mkdtemp(prefix="sp-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if user is not None:
        os.chmod(root, 0o755)
        for p in (root, sock):
            os.chown(p, user.pw_uid, user.pw_gid)
    run_as = {"user": user.pw_uid, "group": user.pw_gid} if user is not None else {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    port = _free_port()
    log = root / "server.log"
    try:
        subprocess.run(
            [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "sp", "-E", "UTF8",
             "--no-sync"],
            check=True, capture_output=True, env=env, cwd=root, **run_as,
        )
        subprocess.run(
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o",
             f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
             "-c full_page_writes=off -c synchronous_commit=off", "start"],
            check=True, capture_output=True, env=env, cwd=root, **run_as,
        )
    except (subprocess.CalledProcessError, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        shutil.rmtree(root, ignore_errors=True)
        unavailable(f"{exc}: {detail.decode(errors='replace')[-500:]}")
    atexit.register(_stop, bindir, data, root, env, run_as)
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(host="127.0.0.1", port=port, user="sp", dbname="postgres",
                                 autocommit=True):
                break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    return f"postgresql+psycopg://sp@127.0.0.1:{port}/postgres"

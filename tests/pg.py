"""A real PostgreSQL server for tests: initdb + pg_ctl in a temporary folder on a free loopback port.

Debian's `postgresql` package puts the binaries in /usr/lib/postgresql/<major>/bin (make test installs
it). PostgreSQL refuses to run as root, so under root the data folder belongs to the `postgres` system
user and the commands run through `runuser -u postgres --`.
"""
from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.support import free_port, wait_until

__all__ = ["PostgresServer", "postgres_bin_dir", "postgres_server", "running_postgres"]


def postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin folder that has initdb and pg_ctl, or None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                        if Path(p).parent.name.isdigit() else 0)
    for folder in reversed(candidates):
        if os.access(Path(folder) / "initdb", os.X_OK) and os.access(Path(folder) / "pg_ctl", os.X_OK):
            return Path(folder)
    return None


@dataclass
class PostgresServer:
    bin_dir: Path
    data_dir: Path
    socket_dir: Path
    port: int
    user: str

    def url(self, database: str = "postgres") -> str:
        """A postgresql:// URL over TCP on loopback (trust authentication: the server is local and temporary)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def accepting(self) -> bool:
        result = subprocess.run([str(self.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port),
                                 "-U", self.user, "-d", "postgres"], capture_output=True)
        return result.returncode == 0


def _as_postgres_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(_as_postgres_user(command), capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}): {result.stdout[-1500:]}{result.stderr[-1500:]}")


@contextlib.contextmanager
def running_postgres(bin_dir: Path) -> Iterator[PostgresServer]:
    """initdb, start on a free port, yield once it accepts connections, stop (fast) and delete afterwards."""
    root = Path(tempfile.mkdtemp(prefix="servescope-pg-"))
    data_dir, socket_dir = root / "data", root / "sock"
    data_dir.mkdir()
    socket_dir.mkdir()
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root needs the 'postgres' system user (Debian's postgresql package "
                               "creates it); PostgreSQL refuses to run as root") from None
        for path in (root, data_dir, socket_dir):
            os.chown(path, account.pw_uid, account.pw_gid)
        user = "postgres"
    else:
        user = pwd.getpwuid(os.geteuid()).pw_name
    server = PostgresServer(bin_dir, data_dir, socket_dir, free_port(), user)
    log = root / "server.log"
    started = False
    try:
        _run([str(bin_dir / "initdb"), "-D", str(data_dir), "-U", user, "--auth=trust", "--encoding=UTF8",
              "--locale=C", "--no-sync"], "initdb")
        options = (f"-c listen_addresses=127.0.0.1 -c port={server.port} -c unix_socket_directories={socket_dir} "
                   "-c fsync=off -c max_connections=50")
        _run([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(log), "-o", options, "-w", "-t", "60",
              "start"], "pg_ctl start")
        started = True
        wait_until(server.accepting, timeout=60, what=f"PostgreSQL on 127.0.0.1:{server.port}")
        yield server
    finally:
        if started:
            _run([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"], "pg_ctl stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL for the session; tests call create_database() for their own database."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("no PostgreSQL binaries in /usr/lib/postgresql/*/bin (make test installs Debian's postgresql)")
    with running_postgres(bin_dir) as server:
        yield server

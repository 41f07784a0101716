"""Real services for the tests, started on loopback in temporary directories.

PostgreSQL: ``initdb`` + ``pg_ctl`` from the system's PostgreSQL (installed by
``scripts/system-deps.sh`` when missing). PostgreSQL refuses to run as root, so as root the server
runs as the ``postgres`` system user. A test that cannot get its service fails, naming what is
missing; nothing is skipped silently.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


class ServiceError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if found:
        return found[0]
    path = shutil.which(name)
    if path:
        return path
    raise ServiceError(
        f"PostgreSQL's {name} not found: run 'make system-deps' (installs the postgresql package)"
    )


class Postgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (free port, trust auth, db 'policytrail')."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/policytrail"

    def _run(self, *cmd: str) -> subprocess.CompletedProcess[str]:
        full = list(cmd)
        if self.as_root:
            full = ["runuser", "-u", "postgres", "--", *full]
        return subprocess.run(full, capture_output=True, text=True, check=False, timeout=120)

    def start(self) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        r = self._run(
            pg_bin("initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        if r.returncode != 0:
            raise ServiceError(f"initdb failed: {r.stderr.strip()[-500:]}")
        opts = (
            f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        r = self._run(
            pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.root / "pg.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        if r.returncode != 0:
            log = (self.root / "pg.log").read_text(errors="replace")[-800:]
            raise ServiceError(f"PostgreSQL did not start: {r.stderr.strip()} {log}")
        r = self._run(
            pg_bin("createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "policytrail",
        )
        if r.returncode != 0:
            raise ServiceError(f"createdb failed: {r.stderr.strip()}")
        return self.url

    def reset(self) -> None:
        """Drop and recreate the database (a clean slate for the next test)."""
        for cmd in ("dropdb", "createdb"):
            args = [pg_bin(cmd), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
            if cmd == "dropdb":
                args += ["--force", "--if-exists"]
            r = self._run(*args, "policytrail")
            if r.returncode != 0:
                raise ServiceError(f"{cmd} failed: {r.stderr.strip()}")

    def stop(self) -> None:
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (self.data / "postmaster.pid").exists():
            time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)

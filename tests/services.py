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

    def __init__(self, root: Path, durable: bool = False) -> None:
        self.root = root
        self.durable = durable  # commits survive ``halt()`` (a server crash)
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
        self._pg_ctl_start()
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

    def _pg_ctl_start(self) -> None:
        # fsync only matters when the machine crashes; synchronous_commit=off would lose the
        # last commits when the server itself is halted (``halt``), so a durable server keeps it
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c full_page_writes=off"
        if not self.durable:
            opts += " -c synchronous_commit=off"
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

    def halt(self) -> None:
        """Stop the server abruptly (as a crash or a lost machine would), keeping its data."""
        r = self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        if r.returncode != 0:
            raise ServiceError(f"pg_ctl stop failed: {r.stderr.strip()}")

    def restart(self) -> None:
        """Start a halted server again on the same port and data (crash recovery runs)."""
        self._pg_ctl_start()

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


class Redis:
    """A throwaway ``redis-server`` on 127.0.0.1 (no persistence). Redis cannot bind port 0, so
    a free port is picked and, if another process takes it first, another one is tried."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = 0
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, attempts: int = 5) -> str:
        exe = shutil.which("redis-server")
        if exe is None:
            raise ServiceError(
                "redis-server not found: run 'make system-deps' (installs the redis-server package)"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        log = self.root / "redis.log"
        for _ in range(attempts):
            self.port = free_port()
            log.write_text("")
            self.proc = subprocess.Popen(
                [
                    exe,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.root),
                    "--logfile",
                    str(log),
                    "--daemonize",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if self._ready(log):
                self.url = f"redis://127.0.0.1:{self.port}/0"
                return self.url
            self.proc.kill()
            self.proc.wait()
            text = log.read_text(errors="replace")
            if "in use" not in text:  # not a lost race for the port: a real failure
                raise ServiceError(f"redis-server did not start: {text.strip()[-500:]}")
        raise ServiceError(f"redis-server found no free port in {attempts} attempts")

    def _ready(self, log: Path) -> bool:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 20
        try:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    return False
                try:
                    if client.ping():
                        return True
                except redis.RedisError:
                    pass
                time.sleep(0.05)
            return False
        finally:
            client.close()

    def flush(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            client.flushall()
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)

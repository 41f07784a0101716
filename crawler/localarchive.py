"""A local pywb archive on loopback, serving WARC files as the collection ``web``.

pywb runs from its own virtual environment (it pins old libraries that clash with ours); see
``crawler/pywb_launcher.py``. Used by the demo, the tests and ``policytrail serve``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = Path(__file__).resolve().parent / "pywb_launcher.py"
PYWB_PYTHON_ENV = "POLICYTRAIL_PYWB_PYTHON"
SAMPLE_WARC = ROOT / "samples" / "ota-sample.warc.gz"
SAMPLE_URLS = ROOT / "samples" / "urls.txt"


class LocalArchiveError(RuntimeError):
    """pywb is missing or would not start."""


def pywb_python() -> str:
    """The interpreter of pywb's virtual environment."""
    candidates = [os.environ.get(PYWB_PYTHON_ENV, ""), str(ROOT / ".venv-pywb" / "bin" / "python")]
    for c in candidates:
        if c and Path(c).exists():
            return c
    raise LocalArchiveError(
        "pywb is not installed: run 'make setup' (it creates .venv-pywb) "
        f"or set {PYWB_PYTHON_ENV} to the python of a virtualenv with pywb"
    )


class LocalArchive:
    """``with LocalArchive([warc]) as base_url: ...`` serves the WARCs until the block ends."""

    def __init__(
        self,
        warcs: list[Path],
        *,
        root: Path | None = None,
        port: int = 0,
        startup_timeout: float = 60.0,
    ) -> None:
        for w in warcs:
            if not Path(w).is_file():
                raise LocalArchiveError(f"WARC file not found: {w}")
        self.warcs = [Path(w).resolve() for w in warcs]
        self._own_root = root is None
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="policytrail-pywb-"))
        self.port = port
        self.timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.log_path = self.root / "pywb.log"

    def start(self) -> str:
        port_file = self.root / "port"
        port_file.unlink(missing_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        cmd = [
            pywb_python(),
            str(LAUNCHER),
            "--root",
            str(self.root / "pywb"),
            "--port",
            str(self.port),
            "--port-file",
            str(port_file),
        ]
        for w in self.warcs:
            cmd += ["--warc", str(w)]
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise LocalArchiveError(
                    f"pywb exited with code {self.proc.returncode}: {tail.strip()}"
                )
            if port_file.exists():
                self.base_url = f"http://127.0.0.1:{port_file.read_text().strip()}/web"
                if self._ready():
                    return self.base_url
            time.sleep(0.05)
        self.stop()
        raise LocalArchiveError(
            f"pywb did not start within {self.timeout:.0f} s (log: {self.log_path})"
        )

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"{self.base_url}/cdx?url=example.invalid&limit=1", timeout=2
            ):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

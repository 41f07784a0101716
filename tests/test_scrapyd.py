"""scrapyd smoke test: a real scrapyd on loopback, the project deployed through its HTTP API from
a scrapy.cfg deploy target (``python -m crawler.scrapydeploy``), the policies spider scheduled
with schedule.json against the pywb sample, and the crawl's results in the database."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.scrapydeploy import post_form
from tests.conftest import ROOT, SAMPLE_URLS
from tests.services import free_port
from tests.stored import assert_same_history, sqlite_baseline, stored_result

__all__ = ["sqlite_baseline"]

pytestmark = pytest.mark.e2e


class Scrapyd:
    """scrapyd on 127.0.0.1 with its config, eggs, logs and queue in a temporary directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, attempts: int = 3) -> str:
        exe = shutil.which("scrapyd", path=str(Path(sys.executable).parent))
        if exe is None:
            pytest.fail("scrapyd is not installed in the virtual environment (pip install -e .)")
        for _ in range(attempts):
            port = free_port()
            conf = configparser.ConfigParser()
            conf["scrapyd"] = {
                "bind_address": "127.0.0.1",
                "http_port": str(port),
                "eggs_dir": str(self.root / "eggs"),
                "logs_dir": str(self.root / "logs"),
                "dbs_dir": str(self.root / "dbs"),
                "items_dir": "",
                "poll_interval": "0.5",
                "max_proc": "1",
            }
            with (self.root / "scrapyd.conf").open("w") as fh:
                conf.write(fh)
            log = (self.root / "scrapyd.log").open("wb")
            self.proc = subprocess.Popen([exe], cwd=self.root, stdout=log, stderr=log)
            self.url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if self.get("daemonstatus.json")["status"] == "ok":
                        return self.url
                except OSError:
                    time.sleep(0.1)
            self.stop()
            text = (self.root / "scrapyd.log").read_text(errors="replace")
            if "in use" not in text:
                pytest.fail(f"scrapyd did not start: {text[-800:]}")
        pytest.fail("scrapyd found no free port")

    def get(self, endpoint: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/{endpoint}{query}", timeout=10) as r:
            return json.load(r)

    def post(self, endpoint: str, fields: list[tuple[str, str]]) -> Any:
        return post_form(f"{self.url}/{endpoint}", fields)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def scrapyd(tmp_path: Path) -> Iterator[Scrapyd]:
    server = Scrapyd(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_deploy_schedule_and_crawl_through_scrapyd(
    scrapyd: Scrapyd, pywb_archive: str, tmp_path: Path, sqlite_baseline: dict[str, Any]
) -> None:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "scrapy.cfg")
    project = cfg["deploy"]["project"]
    assert project == "policytrail" and cfg["settings"]["default"] == "crawler.settings"

    # deploy as a user would: a [deploy:NAME] target in scrapy.cfg, then the deploy module
    cfg_file = tmp_path / "scrapy.cfg"
    cfg["deploy:smoke"] = {"url": scrapyd.url + "/", "project": project}
    with cfg_file.open("w") as fh:
        cfg.write(fh)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "crawler.scrapydeploy",
            "smoke",
            "--cfg",
            str(cfg_file),
            "--version",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0 and "deployed policytrail 1" in r.stdout, r.stderr
    spiders = scrapyd.get("listspiders.json", project=project)["spiders"]
    assert "policies" in spiders, spiders

    db = f"sqlite:///{tmp_path / 'scrapyd.db'}"
    job = scrapyd.post(
        "schedule.json",
        [
            ("project", project),
            ("spider", "policies"),
            ("urls", str(SAMPLE_URLS)),
            ("archive", pywb_archive),
            ("db", db),
            ("setting", "POLICYTRAIL_CDX_PER_MINUTE=1200"),
            ("setting", "POLICYTRAIL_REPLAY_PER_SECOND=100"),
        ],
    )
    assert job["status"] == "ok", job
    deadline = time.monotonic() + 120
    while True:
        jobs = scrapyd.get("listjobs.json", project=project)
        finished = [j for j in jobs["finished"] if j["id"] == job["jobid"]]
        if finished:
            break
        assert time.monotonic() < deadline, f"the scrapyd job did not finish: {jobs}"
        time.sleep(0.25)
    log = next((scrapyd.root / "logs" / project / "policies").glob(f"{job['jobid']}.log"))
    text = log.read_text(errors="replace")
    assert "'finish_reason': 'finished'" in text, text[-2000:]
    assert_same_history(stored_result(db), sqlite_baseline["result"])
    assert os.path.getsize(str(tmp_path / "scrapyd.db")) > 0

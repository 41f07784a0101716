"""Deploy policytrail to a scrapyd server: ``python -m crawler.scrapydeploy [TARGET]``.

Reads the ``[deploy]`` (or ``[deploy:TARGET]``) section of ``scrapy.cfg`` (``url``, ``project``),
builds an egg and uploads it with scrapyd's ``addversion.json``.

The egg is thin: it names the Scrapy settings module (the ``scrapy`` entry point) and nothing
else. The code runs from the policytrail package installed in scrapyd's environment
(``pip install policytrail``), because Alembic reads the migrations from real files, which a
zipped egg (all scrapyd keeps) does not have.
"""

from __future__ import annotations

import argparse
import configparser
import json
import sys
import time
import urllib.request
import uuid
import zipfile
from pathlib import Path
from typing import Any

from crawler import __version__


class DeployError(Exception):
    pass


def build_egg(out: Path, version: str) -> Path:
    egg = out / f"policytrail-{version}-py{sys.version_info[0]}.{sys.version_info[1]}.egg"
    with zipfile.ZipFile(egg, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "EGG-INFO/PKG-INFO", f"Metadata-Version: 2.1\nName: policytrail\nVersion: {version}\n"
        )
        z.writestr("EGG-INFO/entry_points.txt", "[scrapy]\nsettings = crawler.settings\n")
        z.writestr("EGG-INFO/top_level.txt", "")
    return egg


def deploy_target(cfg_path: Path, target: str | None = None) -> tuple[str, str]:
    """(scrapyd URL, project) of a scrapy.cfg deploy target."""
    cfg = configparser.ConfigParser()
    if not cfg.read(cfg_path):
        raise DeployError(f"no {cfg_path}")
    section = f"deploy:{target}" if target else "deploy"
    if section not in cfg:
        raise DeployError(f"{cfg_path} has no [{section}] section")
    url = cfg[section].get("url", "").rstrip("/")
    project = cfg[section].get("project", "")
    if not url or not project:
        raise DeployError(f"[{section}] in {cfg_path} needs url and project")
    return url, project


def post_form(url: str, fields: list[tuple[str, str]], files: dict[str, Path] | None = None) -> Any:
    """POST multipart/form-data (what scrapyd's API takes) and decode its JSON answer."""
    boundary = uuid.uuid4().hex
    body = b""
    for name, value in fields:
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    for name, path in (files or {}).items():
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        body += path.read_bytes() + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    req = urllib.request.Request(
        url, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.load(r)
    except OSError as exc:
        raise DeployError(f"scrapyd at {url} did not answer: {exc}") from None


def deploy(url: str, project: str, version: str, workdir: Path) -> dict[str, Any]:
    egg = build_egg(workdir, version)
    answer: dict[str, Any] = post_form(
        f"{url}/addversion.json", [("project", project), ("version", version)], {"egg": egg}
    )
    if answer.get("status") != "ok":
        raise DeployError(f"scrapyd refused the egg: {answer.get('message', answer)}")
    return answer


def main(argv: list[str] | None = None) -> int:
    import tempfile

    ap = argparse.ArgumentParser(prog="python -m crawler.scrapydeploy")
    ap.add_argument("target", nargs="?", help="a [deploy:TARGET] of scrapy.cfg (default [deploy])")
    ap.add_argument("--cfg", default="scrapy.cfg", help="the project file (default ./scrapy.cfg)")
    ap.add_argument("--version", default=f"{__version__}-{int(time.time())}")
    args = ap.parse_args(argv)
    try:
        url, project = deploy_target(Path(args.cfg), args.target)
        with tempfile.TemporaryDirectory(prefix="policytrail-egg-") as tmp:
            answer = deploy(url, project, args.version, Path(tmp))
    except DeployError as exc:
        print(f"scrapydeploy: error: {exc}", file=sys.stderr)
        return 1
    print(f"deployed {project} {args.version} to {url}: spiders {answer.get('spiders')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

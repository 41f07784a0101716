"""A real headless browser for the tests: Debian's chromium driven over the Chrome DevTools
Protocol (a websocket), with a small synchronous client.

``with Chromium() as browser: page = browser.open("file:///…/index.html")`` loads a page and
waits for its load event; ``page.evaluate(js)`` runs an expression in it (through the DevTools
protocol, which the page's Content-Security-Policy does not govern); ``page.problems()`` lists
console errors, uncaught exceptions and CSP violations seen since the page was opened;
``page.screenshot(path)`` saves a full-page PNG.

Chromium missing is an error naming the fix (``scripts/system-deps.sh`` installs it), never a
silent skip. The browser runs with a throwaway profile, no network service beyond loopback
DevTools, and is killed (only the process this helper started) on exit.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

from websockets.sync.client import ClientConnection, connect

CHROMIUM_ENV = "POLICYTRAIL_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"

# Installed before any page script: records CSP violations the page itself would raise, so a
# blocked inline script or remote load is seen even when chromium prints nothing for it.
_RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""


class BrowserError(RuntimeError):
    """Chromium is missing, would not start, or a DevTools command failed."""


def chromium_path() -> str:
    path = os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        found = shutil.which("chromium")
        if found is None:
            raise BrowserError(
                f"chromium not found at {path} (the browser tests need Debian's chromium: "
                f"run scripts/system-deps.sh, or set {CHROMIUM_ENV})"
            )
        path = found
    return path


class Page:
    """One browser tab, attached over its own DevTools websocket."""

    def __init__(self, ws: ClientConnection, timeout: float, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._ws = ws
        self._timeout = timeout
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._next_id += 1
        msg_id = self._next_id
        self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + self._timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"DevTools: no answer to {method} in {self._timeout:.0f} s")
            msg = json.loads(self._ws.recv(timeout=left))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise BrowserError(f"DevTools {method} failed: {msg['error']}")
                result: dict[str, Any] = msg.get("result", {})
                return result
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method: str) -> dict[str, Any]:
        """The next event named ``method`` (events already received count)."""
        for i, ev in enumerate(self.events):
            if ev["method"] == method:
                return self.events.pop(i)
        deadline = time.monotonic() + self._timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"DevTools: no {method} event in {self._timeout:.0f} s")
            msg = json.loads(self._ws.recv(timeout=left))
            if msg.get("method") == method:
                return dict(msg)
            if "method" in msg:
                self.events.append(msg)

    def goto(self, url: str) -> None:
        self.events.clear()
        result = self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"cannot open {url}: {result['errorText']}")
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"evaluating {expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """Click the centre of the first element matching ``selector``, as a user would."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return null; e.scrollIntoView({block: 'center'});"
            " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2];"
            " })()"
        )
        if box is None:
            raise BrowserError(f"no element matches {selector!r}")
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1},
            )

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and CSP violations so far."""
        self.send("Runtime.evaluate", {"expression": "0"})  # flush pending events
        out: list[str] = []
        for ev in self.events:
            p = ev.get("params", {})
            if ev["method"] == "Runtime.consoleAPICalled" and p.get("type") in (
                "error",
                "warning",
                "assert",
            ):
                args = " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
                out.append(f"console.{p['type']}: {args}")
            elif ev["method"] == "Runtime.exceptionThrown":
                out.append(f"exception: {p.get('exceptionDetails', {}).get('text', '')}")
            elif ev["method"] == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                e = p["entry"]
                out.append(f"log {e['level']} ({e.get('source', '')}): {e.get('text', '')}")
        violations = self.evaluate("window.__cspViolations || []")
        out.extend(f"CSP violation: {v}" for v in violations)
        return out

    def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        """A PNG of the whole page (at most 8000 px high), or of the viewport."""
        metrics = self.send("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        if not full_page:
            size = {"width": self.width, "height": self.height}
        shot = self.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {
                    "x": 0,
                    "y": 0,
                    "width": size["width"],
                    "height": min(size["height"], 8000),
                    "scale": 1,
                },
            },
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


class Chromium:
    """Headless Debian chromium with a DevTools endpoint on a free loopback port."""

    def __init__(self, *, width: int = 1280, height: int = 900, timeout: float = 20.0) -> None:
        self.width, self.height, self.timeout = width, height, timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.profile: str | None = None
        self._stack = ExitStack()
        self.port = 0

    def start(self) -> Chromium:
        exe = chromium_path()
        self.profile = tempfile.mkdtemp(prefix="policytrail-chromium-")
        cmd = [
            exe,
            "--headless=new",
            "--no-sandbox",  # tests may run as root (CI containers)
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={self.profile}",
            f"--window-size={self.width},{self.height}",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # chromium writes its chosen port to DevToolsActivePort in the profile once it listens
        active = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while True:
            if self.proc.poll() is not None:
                raise BrowserError(f"chromium exited with code {self.proc.returncode} at start")
            if active.exists():
                lines = active.read_text().split()
                if lines and lines[0].isdigit():
                    self.port = int(lines[0])
                    break
            if time.monotonic() > deadline:
                self.stop()
                raise BrowserError(f"chromium did not open DevTools in {self.timeout:.0f} s")
            time.sleep(0.02)
        return self

    def open(self, url: str) -> Page:
        """A new tab that has loaded ``url``."""
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT"
        )
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            target = json.loads(resp.read())
        ws = self._stack.enter_context(
            connect(
                target["webSocketDebuggerUrl"],
                max_size=64 * 1024 * 1024,
                open_timeout=self.timeout,
            )
        )
        page = Page(ws, self.timeout, self.width, self.height)
        for domain in ("Page", "Runtime", "Log"):
            page.send(f"{domain}.enable")
        page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
        )
        page.send("Page.addScriptToEvaluateOnNewDocument", {"source": _RECORD_VIOLATIONS})
        page.goto(url)
        return page

    def stop(self) -> None:
        self._stack.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    def __enter__(self) -> Chromium:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

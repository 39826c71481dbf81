"""Drive Debian's headless Chromium over the DevTools protocol: the same browser and flags the page tests of
tests/provenance use (prov_render), kept open so a reader can click from page to page and keep a cookie.

Only what the tests need: open a URL and wait for it to load, run JavaScript, click, take a screenshot.
The connection is a plain WebSocket (the `websockets` package web3 already brings), no WebDriver."""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from prov_render import _FLAGS, CHROMIUM, MISSING
from websockets.sync.client import ClientConnection, connect

__all__ = ["CHROMIUM", "MISSING", "Browser"]


class Browser:
    """One headless Chromium with one page."""

    def __init__(self, tmp: Path, size: tuple[int, int] = (1280, 1600)) -> None:
        assert CHROMIUM is not None, MISSING
        profile = tmp / "chromium-profile"
        self.proc = subprocess.Popen(
            [
                CHROMIUM,
                *_FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                f"--window-size={size[0]},{size[1]}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert self.proc.poll() is None, f"chromium exited {self.proc.returncode}"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port within 30 s"
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        pages = [t for t in httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json() if t["type"] == "page"]
        self.ws: ClientConnection = connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        self._ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        self.send("Page.enable")
        self.send("Runtime.enable")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events that arrive meanwhile are kept)."""
        n = next(self._ids)
        self.ws.send(json.dumps({"id": n, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == n:
                assert "error" not in msg, f"{method}: {msg['error']}"
                return msg.get("result", {})  # type: ignore[no-any-return]
            self.events.append(msg)

    def _wait_event(self, name: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == name:
                    del self.events[: i + 1]
                    return
            assert time.monotonic() < deadline, f"no {name} within {timeout} s"
            try:
                self.events.append(json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic()))))
            except TimeoutError:
                pass

    def open(self, url: str) -> None:
        """Go to `url` and wait until the page has loaded."""
        self.events.clear()
        self.send("Page.navigate", url=url)
        self._wait_event("Page.loadEventFired")

    def js(self, expression: str) -> Any:
        """Evaluate JavaScript in the page (awaiting a promise) and return its value."""
        r = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in r, r["exceptionDetails"]
        return r["result"].get("value")

    def text(self, selector: str) -> str:
        """The text of the first element `selector` matches ('' when none does)."""
        return str(self.js(f"(document.querySelector({json.dumps(selector)}) || {{textContent: ''}}).textContent"))

    def click(self, selector: str, *, navigates: bool = True) -> None:
        """Click the first element `selector` matches (and wait for the page it opens)."""
        self.events.clear()
        assert self.js(f"!!document.querySelector({json.dumps(selector)})"), f"nothing matches {selector}"
        self.js(f"document.querySelector({json.dumps(selector)}).click()")
        if navigates:
            self._wait_event("Page.loadEventFired")

    def wait_for(self, expression: str, timeout: float = 15) -> Any:
        """Wait until a JavaScript expression is truthy and return its value."""
        deadline = time.monotonic() + timeout
        while not (value := self.js(expression)):
            assert time.monotonic() < deadline, f"{expression} stayed false for {timeout} s"
            time.sleep(0.05)
        return value

    def screenshot(self, path: Path, *, full: bool = True) -> bytes:
        """Save a PNG of the page (the whole page by default) and return its bytes."""
        png = base64.b64decode(self.send("Page.captureScreenshot", format="png", captureBeyondViewport=full)["data"])
        path.write_bytes(png)
        return png

    def close(self) -> None:
        """Close the page and stop the browser."""
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

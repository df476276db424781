"""Headless Chromium driven over the DevTools protocol, through a pipe.

`--remote-debugging-pipe` makes Chromium read protocol messages (JSON, each ended by a NUL byte)
from fd 3 and write its answers and events to fd 4. That needs no port (nothing to race for,
nothing another process on the machine can reach), no websocket client and no chromedriver whose
version must match the browser's: the Debian `chromium` package and the standard library are all
the browser tests need.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

Message = dict[str, Any]


class BrowserError(RuntimeError):
    pass


def chromium_path() -> str | None:
    return (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


class Chromium:
    """One headless browser with one page attached; `events` keeps every event it reported."""

    def __init__(
        self,
        binary: str,
        profile: Path,
        *,
        width: int = 1280,
        height: int = 900,
        timeout: float = 30,
    ) -> None:
        self.timeout = timeout
        self.events: list[Message] = []
        self._next_id = 0
        self._buffer = b""
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        args = [
            binary,
            "--headless",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-sync",
            "--hide-scrollbars",
            "--mute-audio",
            "about:blank",
        ]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium's sandbox refuses to run as root
        # The shell moves the pipe ends (given as stdin and stdout) to fds 3 and 4, where the
        # browser looks for them; subprocess has no other thread-safe way to place an fd.
        self._process = subprocess.Popen(
            ["/bin/sh", "-c", 'exec "$0" "$@" 3<&0 4>&1 </dev/null >&2', *args],
            stdin=to_browser_r,
            stdout=from_browser_w,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        try:
            targets = self.call("Target.getTargets")["targetInfos"]
            page = next(t for t in targets if t["type"] == "page")
            attached = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)
            self.session = attached["sessionId"]
            # The viewport itself, not the window (whose size includes what headless keeps of a
            # window's frame), so a layout test sees exactly `width` CSS pixels.
            self.page(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
        except BaseException:
            self.close()
            raise

    # --- protocol ------------------------------------------------------------------------------

    def call(self, method: str, *, session: str | None = None, **params: Any) -> Message:
        """Send one command and wait for its answer (events read meanwhile are kept)."""
        self._next_id += 1
        message: Message = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        answer = self._read_until(lambda m: m.get("id") == message["id"], f"the answer to {method}")
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        result: Message = answer.get("result", {})
        return result

    def page(self, method: str, **params: Any) -> Message:
        """A command to the page's session."""
        return self.call(method, session=self.session, **params)

    def wait_for(self, event: str) -> Message:
        """The first event of that name, reported already or to come."""
        for seen in self.events:
            if seen["method"] == event:
                return seen
        return self._read_until(lambda m: m.get("method") == event, event)

    def _read_until(self, wanted: Callable[[Message], bool], what: str) -> Message:
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message: Message = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                if wanted(message):
                    return message
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise BrowserError(f"no {what} from Chromium within {self.timeout} s")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise BrowserError(f"Chromium exited (code {self._process.poll()}) before {what}")
            self._buffer += chunk

    # --- what a test does ---------------------------------------------------------------------

    def open(self, url: str) -> None:
        """Load `url` and wait for its load event, recording its requests and console."""
        self.page("Page.enable")
        self.page("Network.enable")
        self.page("Runtime.enable")
        self.page("Log.enable")
        self.page("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        answer = self.page("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in answer:
            raise BrowserError(f"{expression!r} threw: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) at the centre of the element."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return null; e.scrollIntoView({block: 'center'});"
            " const r = e.getBoundingClientRect();"
            " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()"
        )
        if box is None:
            raise BrowserError(f"nothing matches {selector}")
        for kind in ("mousePressed", "mouseReleased"):
            self.page(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box["x"],
                y=box["y"],
                button="left",
                clickCount=1,
            )

    def screenshot(self, path: Path, *, full_page: bool = False) -> None:
        shot = self.page("Page.captureScreenshot", format="png", captureBeyondViewport=full_page)
        path.write_bytes(base64.b64decode(shot["data"]))

    def requests(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e["method"] == "Network.requestWillBeSent"
        ]

    def console_problems(self) -> list[str]:
        """Errors and warnings the page logged (a CSP refusal is one), and uncaught exceptions."""
        problems = [
            e["params"]["entry"]["text"]
            for e in self.events
            if e["method"] == "Log.entryAdded"
            and e["params"]["entry"]["level"] in ("error", "warning")
        ]
        problems += [
            str(e["params"]["exceptionDetails"])
            for e in self.events
            if e["method"] == "Runtime.exceptionThrown"
        ]
        problems += [
            " ".join(str(a.get("value")) for a in e["params"]["args"])
            for e in self.events
            if e["method"] == "Runtime.consoleAPICalled"
            and e["params"]["type"] in ("error", "warning")
        ]
        return problems

    # --- lifetime -----------------------------------------------------------------------------

    def close(self) -> None:
        try:
            if self._process.poll() is None:
                try:
                    os.write(self._to_browser, b'{"id": 0, "method": "Browser.close"}\0')
                    self._process.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    self._process.kill()
                    self._process.wait()
        finally:
            for fd in (self._to_browser, self._from_browser):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

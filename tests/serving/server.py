"""Start the real ``xsell serve`` (uvicorn) in a subprocess for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from tests.conftest import ROOT

#: ``xsell serve`` alone (not every CLI module, which other engineers may be editing).
SERVE = "import xsell.cli.commands_serve; from xsell.cli.app import app; app()"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``with Server(bundle, "--api-key", KEY) as s:`` -> ``s.url``; ``s.kill()`` is SIGKILL.

    ``env`` adds environment variables of the server process.
    """

    def __init__(
        self, bundle: Path, *args: str, log: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [
            sys.executable, "-c", SERVE, "serve", "--bundle", str(bundle),
            "--port", str(self.port), *args,
        ]  # fmt: skip
        self.log = log
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180.0) -> Server:
        out = self.log.open("ab") if self.log else subprocess.DEVNULL
        env = {**os.environ, "PYTHONPATH": str(ROOT), **self.env}
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.command}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not ready within {timeout} s: {self.command}")

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

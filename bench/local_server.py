"""`policy-tagger serve` in a child process on a free local port, for benchmarks and tests."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

EXE = Path(sys.executable).parent / "policy-tagger"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's memory from /proc (Linux): VmRSS resident now, VmHWM its peak."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no {field} in /proc/{pid}/status")


@contextmanager
def local_server(model: Path, log: Path, ready_within_s: float = 120.0, args: tuple[str, ...] = ()):
    """Yields (process, base URL) once /readyz answers, and stops the server afterwards. Its output goes to
    ``log``: a file, not a pipe, which the server would block on once nobody reads it. ``args``: more options
    for ``serve``."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        server = subprocess.Popen([str(EXE), "serve", "--model", str(model), "--port", str(port), *args],
                                  stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_until_ready(server, base, ready_within_s, log)
            yield server, base
        finally:
            if server.poll() is None:
                server.terminate()
                server.wait(timeout=30)


def _ready(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/readyz", timeout=1) as response:
            return response.status == 200
    except OSError:  # refused while starting, or 503
        return False


def _wait_until_ready(server: subprocess.Popen, base: str, within_s: float, log: Path) -> None:
    deadline = time.monotonic() + within_s
    while server.poll() is None and time.monotonic() < deadline:
        if _ready(base):
            return
        time.sleep(0.2)
    exited = server.poll()
    server.kill()
    server.wait()
    outcome = f"exited with code {exited}" if exited is not None else f"was not ready within {within_s:.0f} s"
    raise RuntimeError(f"policy-tagger serve {outcome}:\n{Path(log).read_text(errors='replace')[-2000:]}")

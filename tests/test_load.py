"""A running server under load: 2,000 requests from 16 clients, memory steady; SIGTERM finishes in-flight work."""
import asyncio
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

EXE = str(Path(sys.executable).parent / "policy-tagger")
TEXTS = ["全县建成扶贫车间32个，带动1200余名贫困劳动力就近就业。", "落实低保兜底政策，应保尽保。", "新建农村公路200公里。",
         "开展脱贫攻坚专项督查，对排名靠后的乡镇约谈问责。", "为贫困学生发放助学金860万元。"]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def server(tiny_model, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "server.log", "wb")  # a file, not a pipe: an unread pipe would block the server
    proc = subprocess.Popen([EXE, "serve", "--model", str(tiny_model), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError((tmp_path / "server.log").read_text())
    yield proc, base
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    log.close()


async def send(base: str, total: int, clients: int) -> dict[int, int]:
    statuses: dict[int, int] = {}
    numbers = iter(range(total))

    async def client(http):
        for i in numbers:
            response = await http.post(f"{base}/v1/classify", json={"paragraphs": [TEXTS[i % len(TEXTS)]]})
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code == 200:
                assert response.json()["results"][0]["text"] == TEXTS[i % len(TEXTS)]

    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return statuses


def test_2000_requests_from_16_clients(server):
    proc, base = server
    asyncio.run(send(base, 200, 16))  # warm-up: allocations that stay
    before = rss_mb(proc.pid)
    started = time.perf_counter()
    statuses = asyncio.run(send(base, 2000, 16))
    elapsed = time.perf_counter() - started
    after = rss_mb(proc.pid)
    print(f"\n2000 requests, 16 clients: {statuses} in {elapsed:.1f} s ({2000 / elapsed:.0f} req/s); "
          f"server RSS {before:.0f} MB before, {after:.0f} MB after")
    assert set(statuses) <= {200, 503} and sum(statuses.values()) == 2000, statuses
    assert statuses.get(200, 0) >= 1900
    assert after <= 1.2 * before, (before, after)


def test_sigterm_lets_in_flight_request_finish(server):
    proc, base = server
    result = {}

    def long_request():
        body = {"paragraphs": [t + f"第{i}段。" * 20 for i, t in enumerate(TEXTS * 52)][:256]}
        result["response"] = httpx.post(f"{base}/v1/classify", json=body, timeout=120)

    worker = threading.Thread(target=long_request)
    worker.start()
    time.sleep(0.3)  # the request is in flight
    proc.send_signal(signal.SIGTERM)
    worker.join(timeout=120)
    assert result["response"].status_code == 200 and len(result["response"].json()["results"]) == 256
    assert proc.wait(timeout=60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down

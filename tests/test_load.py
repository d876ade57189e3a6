"""A running server under load: 2,000 requests from 16 clients, memory steady; SIGTERM finishes in-flight work."""
import asyncio
import signal
import threading
import time

import httpx
import pytest
from local_server import local_server, memory_mb

TEXTS = ["全县建成扶贫车间32个，带动1200余名贫困劳动力就近就业。", "落实低保兜底政策，应保尽保。", "新建农村公路200公里。",
         "开展脱贫攻坚专项督查，对排名靠后的乡镇约谈问责。", "为贫困学生发放助学金860万元。"]


@pytest.fixture
def server(tiny_model, tmp_path):
    with local_server(tiny_model, tmp_path / "server.log") as running:
        yield running


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
    before = memory_mb(proc.pid)
    started = time.perf_counter()
    statuses = asyncio.run(send(base, 2000, 16))
    elapsed = time.perf_counter() - started
    after = memory_mb(proc.pid)
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


def test_a_server_that_cannot_start_says_why(tmp_path):
    with pytest.raises(RuntimeError, match="exited with code 2(.|\n)*not a policy-tagger model folder"):
        with local_server(tmp_path / "no-model", tmp_path / "server.log"):
            pass

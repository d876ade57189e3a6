"""What a hostile user tried against the server (issue 13): each test failed before its fix."""
import asyncio
import json

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from local_server import local_server, memory_mb

from policy_tagger.service.api import create_app
from policy_tagger.service.batching import MicroBatcher, NeverFits
from policy_tagger.service.settings import Settings

ORDINARY = "全县建成扶贫车间32个，带动1200余名贫困劳动力就近就业。"


async def _send_all(app, requests):
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(*(client.post(path, content=body, headers={"content-type": "application/json"})
                                          for path, body in requests))


def test_a_poisoned_paragraph_fails_alone(tagger):  # 1
    ordinary = ("/v1/classify", json.dumps({"paragraphs": [ORDINARY]}, ensure_ascii=False).encode())
    poisoned = ("/v1/classify", b'{"paragraphs": ["\\u5168\\ud800\\u53bf"]}')
    poisoned_id = ("/v1/classify", b'{"paragraphs": [{"id": "\\ud800", "text": "\\u5168\\u53bf"}]}')
    responses = asyncio.run(_send_all(create_app(tagger, Settings()), [ordinary] * 16 + [poisoned, poisoned_id]))
    assert [r.status_code for r in responses] == [200] * 16 + [422, 422]
    assert responses[16].json()["error"] == "invalid_text" and "paragraphs[0].text" in responses[16].json()["detail"]
    assert "paragraphs[0].id" in responses[17].json()["detail"]


def test_a_model_call_that_fails_fails_only_the_request_that_caused_it(tagger):  # 1, inside the batcher
    def score(texts):  # the real model, with a fault injected for one text
        if "毒" in "".join(texts):
            raise RuntimeError("tokenizer failed")
        return tagger.probabilities(texts)

    batcher = MicroBatcher(score, max_wait_ms=50, in_flight=1)

    async def burst():
        await batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit([t]) for t in [ORDINARY] * 8 + ["毒"] + [ORDINARY] * 7),
                                        return_exceptions=True)
        finally:
            await batcher.stop()
    results = asyncio.run(burst())
    assert [isinstance(r, RuntimeError) for r in results] == [False] * 8 + [True] + [False] * 7
    assert all(isinstance(r, np.ndarray) and r.shape == (1, 6) for i, r in enumerate(results) if i != 8)


def test_health_answers_while_a_large_document_is_split(tagger):  # 3
    lines = "\n".join(f"第{i}行文字" for i in range(600_000))  # splitting takes seconds
    app = create_app(tagger, Settings(max_lines=1_000_000, max_body_bytes=30_000_000, max_chars=100_000))
    finished = []

    async def main():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=120) as client:
                async def document():
                    response = await client.post("/v1/classify-document", json={"text": lines})
                    finished.append("document")
                    return response

                async def health():
                    await asyncio.sleep(0.5)  # the document is being split by now
                    response = await client.get("/healthz")
                    finished.append("health")
                    return response
                return await asyncio.gather(document(), health())
    doc, health = asyncio.run(main())
    assert health.status_code == 200 and finished[0] == "health"
    assert doc.status_code in (200, 413)


def test_document_limits_hold(tagger):  # 6
    settings = Settings(max_paragraphs=5, max_chars=300, max_lines=40)
    with TestClient(create_app(tagger, settings)) as client:
        many = "\n\n".join(f"第{i}条：全县建成扶贫车间{i}个，带动贫困劳动力就近就业。" for i in range(6))
        response = client.post("/v1/classify-document", json={"text": many})
        assert response.status_code == 413 and "at most 5" in response.json()["detail"]
        long = "全县统筹整合财政涉农资金用于产业发展，带动贫困户增收。" * 20
        response = client.post("/v1/classify-document", json={"text": long})
        assert response.status_code == 413 and "at most 300" in response.json()["detail"]
        response = client.post("/v1/classify-document", json={"text": "落实低保。\n" * 41})
        assert response.status_code == 413 and response.json()["error"] == "too_many_lines"


def test_a_request_that_can_never_fit_is_413_not_503():  # 6
    batcher = MicroBatcher(lambda texts: np.zeros((len(texts), 6)), max_queued=10)

    async def submit():
        await batcher.start()
        try:
            await batcher.submit(["x"] * 11)
        finally:
            await batcher.stop()
    with pytest.raises(NeverFits, match="at most 10"):
        asyncio.run(submit())
    with pytest.raises(ValueError, match="could never be queued"):
        Settings(max_paragraphs=3000)


def test_too_many_items_are_refused_before_validation_and_problems_are_capped(tagger):  # 5
    with TestClient(create_app(tagger, Settings(max_paragraphs=100, max_body_bytes=2_000_000))) as client:
        response = client.post("/v1/classify", content=b'{"paragraphs": [' + b",".join([b"{}"] * 60_000) + b"]}",
                               headers={"content-type": "application/json"})
        assert response.status_code == 413 and "60000 paragraphs; at most 100" in response.json()["detail"]
        response = client.post("/v1/classify", json={"paragraphs": [{}] * 100})
        problems = response.json()["detail"]
        assert response.status_code == 422 and len(problems) == 21 and "more" in problems[-1]["problem"]


def test_junk_text_gets_no_label(tagger):  # 15
    junk = ["a", "1", "。", "hello world", "\u200b", "!!!", "2018"]
    with TestClient(create_app(tagger, Settings())) as client:
        rows = client.post("/v1/classify", json={"paragraphs": junk}).json()["results"]
    assert [r["labels"] for r in rows] == [[]] * len(junk)
    assert all(len(r["scores"]) == 6 for r in rows)


def test_a_non_ascii_request_id_comes_back_as_sent(tagger):  # 16
    app = create_app(tagger, Settings())
    sent = [(b"x-request-id", "café-42".encode())]

    async def main():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return (await client.get("/healthz", headers=sent),
                        await client.post("/v1/classify", json={"paragraphs": []}, headers=sent))
    health, error = asyncio.run(main())
    assert (b"x-request-id", "café-42".encode()) in health.headers.raw
    assert error.json()["request_id"] == "café-42"


def test_a_chunked_upload_stops_at_the_body_limit(tiny_model, tmp_path):  # 4
    with local_server(tiny_model, tmp_path / "server.log") as (server, base):
        before = memory_mb(server.pid, "VmHWM")

        def body():
            yield b'{"paragraphs": ["'
            for _ in range(400):  # 40 MB, never announced in a Content-Length
                yield b"x" * 100_000
            yield b'"]}'
        try:
            response = httpx.post(f"{base}/v1/classify", content=body(), headers={"content-type": "application/json"},
                                  timeout=60)
            assert response.status_code == 413 and response.json()["error"] == "body_too_large"
        except httpx.HTTPError:  # the server may close the connection once it has answered: its log says what
            logged = [json.loads(line) for line in (tmp_path / "server.log").read_text().splitlines()
                      if line.startswith("{")]
            assert any(entry["path"] == "/v1/classify" and entry["status"] == 413 for entry in logged)
        peak = memory_mb(server.pid, "VmHWM")
        print(f"\nchunked 40 MB upload: server peak {before:.0f} -> {peak:.0f} MB")
        assert httpx.get(f"{base}/healthz").status_code == 200

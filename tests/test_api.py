"""The REST API: every endpoint, model tag in responses, and 4xx (never 500) on bad input."""
import json

import pytest
from fastapi.testclient import TestClient

from policy_tagger.service.api import create_app
from policy_tagger.service.settings import Settings

LABELS = ["industry", "relocation", "education", "health", "social_security", "supervision"]


@pytest.fixture(scope="module")
def client(tagger):
    with TestClient(create_app(tagger, Settings(max_paragraphs=5, max_chars=300, max_body_bytes=20_000))) as c:
        yield c


def test_classify_strings_and_objects_in_order(client, tagger):
    body = {"paragraphs": ["全县建成扶贫车间32个。", {"id": "b", "text": "落实家庭医生签约服务。"}]}
    response = client.post("/v1/classify", json=body)
    assert response.status_code == 200
    data = response.json()
    assert data["model"] == tagger.model_tag
    assert [r["id"] for r in data["results"]] == ["0", "b"]
    assert [r["text"] for r in data["results"]] == ["全县建成扶贫车间32个。", "落实家庭医生签约服务。"]
    for row in data["results"]:
        assert row["model"] == tagger.model_tag and list(row["scores"]) == LABELS
        assert set(row["labels"]) <= set(LABELS)
    assert response.headers["X-Request-ID"]


def test_api_agrees_with_batch_labeling(client, tagger):
    texts = ["建成集中安置小区3个，搬迁安置1200户。", "对重度残疾人发放护理补贴。"]
    rows = client.post("/v1/classify", json={"paragraphs": texts}).json()["results"]
    expected = tagger.tag(texts)
    assert [r["scores"] for r in rows] == [p.scores for p in expected]


def test_classify_document_splits_and_summarises(client, tagger):
    doc = "一、产业发展\n\n全县建成扶贫车间32个，带动就业1200人。\n\n二、兜底保障\n\n落实低保兜底政策，应保尽保。\n"
    data = client.post("/v1/classify-document", json={"text": doc, "id": "county-2018"}).json()
    assert data["model"] == tagger.model_tag
    assert [(r["id"], r["paragraph"], r["section"]) for r in data["results"]] == [
        ("county-2018:0", 0, "一、产业发展"), ("county-2018:1", 1, "二、兜底保障")]
    summary = data["summary"]
    assert summary["paragraphs"] == 2
    assert summary["label_counts"] == {l: sum(l in r["labels"] for r in data["results"]) for l in LABELS}


def test_labels_health_ready_metrics_docs(client, tagger):
    labels = client.get("/v1/labels").json()
    assert [l["id"] for l in labels["labels"]] == LABELS and labels["model"] == tagger.model_tag
    assert all(l["name_zh"] and l["definition"] and 0 < l["threshold"] < 1 for l in labels["labels"])
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json()["status"] == "ready"
    client.post("/v1/classify", json={"paragraphs": ["落实低保。"]})
    metrics = client.get("/metrics").text
    assert 'policy_tagger_requests_total{path="/v1/classify",status="200"}' in metrics
    assert client.get("/docs").status_code == 200
    assert "/v1/classify" in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize("body,status,error", [
    ({"paragraphs": []}, 422, "empty_request"),
    ({"paragraphs": ["   "]}, 422, "empty_text"),
    ({"paragraphs": [""]}, 422, "empty_text"),
    ({"paragraphs": [3]}, 422, "invalid_request"),
    ({"paragraphs": [{"id": "x"}]}, 422, "invalid_request"),
    ({"paragraphs": "落实低保"}, 422, "invalid_request"),
    ({"texts": ["落实低保"]}, 422, "invalid_request"),
    ([1, 2], 422, "invalid_request"),
    ({"paragraphs": ["落实低保。"] * 6}, 413, "too_many_paragraphs"),
    ({"paragraphs": ["低" * 301]}, 413, "text_too_long"),
])
def test_bad_classify_bodies(client, body, status, error):
    response = client.post("/v1/classify", json=body)
    assert response.status_code == status
    assert response.json()["error"] == error and response.json()["detail"]


def test_malformed_json_body_too_large_and_wrong_method(client):
    response = client.post("/v1/classify", content=b'{"paragraphs": [', headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["error"] == "invalid_request"
    response = client.post("/v1/classify", content=b"x" * 30_000, headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["error"] == "body_too_large"
    assert client.get("/v1/classify").status_code == 405
    assert client.get("/v2/nothing").json()["error"] == "not_found"


@pytest.mark.parametrize("body,status", [({"text": ""}, 422), ({"text": 7}, 422), ({}, 422), ({"text": "  \n "}, 422)])
def test_bad_document_bodies(client, body, status):
    response = client.post("/v1/classify-document", json=body)
    assert response.status_code == status and "error" in response.json()


def test_document_with_only_headings_has_no_rows(client):
    data = client.post("/v1/classify-document", json={"text": "一、产业扶贫\n二、易地搬迁\n"}).json()
    assert data["results"] == [] and data["summary"]["paragraphs"] == 0


def test_api_keys_when_configured(tagger, tmp_path, monkeypatch):
    key_file = tmp_path / "keys"
    key_file.write_text("# one key per line\nfile-key\n", encoding="utf-8")
    monkeypatch.setenv("POLICY_TAGGER_API_KEYS", "env-key, other")
    monkeypatch.setenv("POLICY_TAGGER_API_KEYS_FILE", str(key_file))
    settings = Settings()
    assert settings.api_keys == ["env-key", "other", "file-key"]
    body = {"paragraphs": ["落实低保。"]}
    with TestClient(create_app(tagger, settings)) as c:
        response = c.post("/v1/classify", json=body)
        assert response.status_code == 401 and response.json()["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert c.post("/v1/classify", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/metrics").status_code == 401
        assert c.post("/v1/classify", json=body, headers={"Authorization": "Bearer env-key"}).status_code == 200
        assert c.post("/v1/classify", json=body, headers={"X-API-Key": "file-key"}).status_code == 200
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200


def test_no_key_needed_by_default_and_cors_off_unless_configured(tagger):
    preflight = {"Origin": "https://example.org", "Access-Control-Request-Method": "POST"}
    with TestClient(create_app(tagger, Settings())) as c:
        assert c.post("/v1/classify", json={"paragraphs": ["落实低保。"]}).status_code == 200
        response = c.options("/v1/classify", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
    with TestClient(create_app(tagger, Settings(cors_origins=["https://example.org"]))) as c:
        response = c.options("/v1/classify", headers=preflight)
        assert response.headers["access-control-allow-origin"] == "https://example.org"


def test_limits_from_environment(monkeypatch):
    for name, value in {"MAX_PARAGRAPHS": "10", "MAX_CHARS": "500", "MAX_WAIT_MS": "2.5"}.items():
        monkeypatch.setenv(f"POLICY_TAGGER_{name}", value)
    settings = Settings()
    assert (settings.max_paragraphs, settings.max_chars, settings.max_body_bytes) == (10, 500, 2_000_000)
    assert settings.max_wait_ms == 2.5


def test_full_queue_answers_503_with_retry_after(tagger):
    import asyncio
    import time

    import httpx

    from policy_tagger.service.batching import MicroBatcher

    def slow_score(texts):
        time.sleep(0.3)
        return tagger.probabilities(texts)

    app = create_app(tagger, Settings(), MicroBatcher(slow_score, max_batch=1, max_queued=2))

    async def burst():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await asyncio.gather(*(client.post("/v1/classify", json={"paragraphs": ["落实低保。"]})
                                              for _ in range(6)))

    responses = asyncio.run(burst())
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) >= 2 and set(statuses) == {200, 503}
    busy = next(r for r in responses if r.status_code == 503)
    assert busy.headers["Retry-After"] == "1" and busy.json()["error"] == "overloaded"


def test_request_id_is_echoed_and_logged(client, caplog):
    with caplog.at_level("INFO", logger="policy_tagger.api"):
        response = client.post("/v1/classify", json={"paragraphs": []}, headers={"X-Request-ID": "trace-42"})
    assert response.headers["X-Request-ID"] == "trace-42" and response.json()["request_id"] == "trace-42"
    logged = [json.loads(r.getMessage()) for r in caplog.records if "trace-42" in r.getMessage()]
    assert logged and logged[0]["status"] == 422 and logged[0]["path"] == "/v1/classify"

"""The Label Studio ML backend under /labelstudio: the same pre-annotations as `labelstudio export`, on the
tiny model, behind the API key when one is set."""
import base64

import numpy as np
import pytest
from fastapi.testclient import TestClient

from policy_tagger.service.api import create_app
from policy_tagger.service.labelstudio import prediction
from policy_tagger.service.settings import Settings

TEXTS = ["全县建成扶贫车间32个，带动1200余名贫困劳动力就近就业。", "落实家庭医生签约服务，实现应签尽签。"]


@pytest.fixture(scope="module")
def client(tagger):
    with TestClient(create_app(tagger, Settings(max_paragraphs=5, max_chars=300))) as c:
        yield c


def _tasks(texts):
    return [{"id": 7 + i, "data": {"text": t, "ref_id": f"p{i}"}} for i, t in enumerate(texts)]


def test_predict_gives_the_exports_pre_annotation_per_task(client, tagger):
    response = client.post("/labelstudio/predict", json={"tasks": _tasks(TEXTS), "project": "1.1700000000",
                                                          "label_config": "<View/>", "params": {}})
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == tagger.model_tag
    probs = tagger.probabilities(TEXTS)
    expected = [prediction(p.labels, row, tagger.thresholds, tagger.model_tag)
                for p, row in zip(tagger.predictions(TEXTS, probs), probs)]
    assert [r["result"] for r in body["results"]] == [e["result"] for e in expected]
    assert [r["score"] for r in body["results"]] == pytest.approx([e["score"] for e in expected], abs=1e-3)
    assert all(r["model_version"] == tagger.model_tag for r in body["results"])


def test_setup_health_versions_and_webhook(client, tagger):
    assert client.post("/labelstudio/setup", json={"project": "1.1", "schema": "<View/>"}).json() == {
        "model_version": tagger.model_tag}
    health = client.get("/labelstudio/health").json()
    assert health["status"] == "UP" and health["model_class"]
    assert client.get("/labelstudio/versions").json()["versions"] == [tagger.model_tag]
    event = client.post("/labelstudio/webhook", json={"action": "ANNOTATION_CREATED", "task": {"id": 7},
                                                       "annotation": {"result": []}})
    assert event.status_code == 200 and event.json()["action"] == "ANNOTATION_CREATED"


@pytest.mark.parametrize("tasks", [[], [{"id": 1}], [{"data": {"text": 3}}], [{"data": {"text": "  "}}],
                                   _tasks(["落实低保。"] * 6)])
def test_bad_tasks_are_a_4xx_with_a_reason(client, tasks):
    response = client.post("/labelstudio/predict", json={"tasks": tasks})
    assert 400 <= response.status_code < 500
    assert response.json()["detail"]


def test_the_api_key_guards_the_backend_and_basic_auth_carries_it(tagger):
    body = {"tasks": _tasks(TEXTS[:1])}
    basic = base64.b64encode(b"labelstudio:secret").decode()
    with TestClient(create_app(tagger, Settings(api_keys=["secret"]))) as c:
        assert c.post("/labelstudio/predict", json=body).status_code == 401
        assert c.get("/labelstudio/health").status_code == 401
        assert c.post("/labelstudio/predict", json=body, headers={"Authorization": "Bearer secret"}).status_code == 200
        assert c.get("/labelstudio/health", headers={"Authorization": f"Basic {basic}"}).status_code == 200
        wrong = base64.b64encode(b"labelstudio:guess").decode()
        assert c.get("/labelstudio/health", headers={"Authorization": f"Basic {wrong}"}).status_code == 401
        assert c.get("/labelstudio/health", headers={"Authorization": "Basic not-base64!"}).status_code == 401


def test_prediction_score_sorts_the_least_certain_first():
    thresholds = np.array([0.5, 0.5])
    sure = prediction(["industry"], np.array([0.99, 0.01]), thresholds, "m@1")
    unsure = prediction([], np.array([0.48, 0.01]), thresholds, "m@1")
    assert unsure["score"] < sure["score"]
    assert unsure["result"] == [] and sure["result"][0]["value"]["choices"] == ["industry"]

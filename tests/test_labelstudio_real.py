"""Against a real Label Studio (installed by .ci/labelstudio into its own venv): a project with our labeling
config, our exported tasks with their pre-annotations, our service as its ML backend, an annotation made
through the API, and its export read back by `labelstudio import`. Both servers are stopped at the end."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from policy_tagger.cli.main import main
from policy_tagger.training.corpus import read_labelled

ROOT = Path(__file__).resolve().parents[1]
LS_VENV = ROOT / ".ci" / "labelstudio-venv"
LABEL_STUDIO = LS_VENV / "bin" / "label-studio"
TOKEN = "policy-tagger-test-token-0123456789abcdef"  # noqa: S105 (a throwaway server's)
STARTUP_S = 600  # first start runs every migration on a fresh SQLite database: ~1-3 min on 2 busy cores
TEXTS = ["全县建成扶贫车间32个，带动1200余名贫困劳动力就近就业。", "为建档立卡贫困人口代缴城乡居民医疗保险，实现应保尽保。",
         "完成易地扶贫搬迁安置点建设，搬迁群众1200户。"]

pytestmark = pytest.mark.skipif(not LABEL_STUDIO.is_file(),
                                reason=f"no Label Studio here: run .ci/labelstudio to install it into {LS_VENV}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} exited with {process.returncode}; its log:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(2)
    pytest.fail(f"{url} not up after {limit_s} s; log:\n{log.read_text(errors='replace')[-4000:]}")


def stop(process: subprocess.Popen) -> None:
    """The server and everything it started (its own process group), politely, then not."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory):
    work = tmp_path_factory.mktemp("label-studio")
    port = free_port()
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(work / "data"), "DJANGO_DB": "sqlite",
           "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true", "ML_BLOCK_LOCAL_IP": "false",
           "SSRF_PROTECTION_ENABLED": "false", "LABEL_STUDIO_USERNAME": "test@example.com",
           "LABEL_STUDIO_PASSWORD": "policy-tagger-test", "LABEL_STUDIO_USER_TOKEN": TOKEN,
           "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true", "COLLECT_ANALYTICS": "false",
           "HOME": str(work)}
    process = start([str(LABEL_STUDIO), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
                     "--data-dir", str(work / "data")], env, work / "label-studio.log")
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", process, work / "label-studio.log", STARTUP_S)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Token {TOKEN}"},
                          timeout=120) as client:
            yield client
    finally:
        stop(process)


@pytest.fixture(scope="module")
def our_backend(tiny_model, tmp_path_factory):
    work = tmp_path_factory.mktemp("backend")
    port = free_port()
    process = start([sys.executable, "-m", "policy_tagger.cli", "serve", "--model", str(tiny_model),
                     "--host", "127.0.0.1", "--port", str(port)], dict(os.environ), work / "serve.log")
    try:
        wait_until_up(f"http://127.0.0.1:{port}/readyz", process, work / "serve.log", 120)
        yield f"http://127.0.0.1:{port}/labelstudio"
    finally:
        stop(process)


def ok(response: httpx.Response) -> dict | list:
    assert response.status_code < 300, f"{response.request.method} {response.request.url}: {response.status_code} " \
                                       f"{response.text[:2000]}"
    return response.json() if response.content else {}


def test_the_annotation_loop_through_a_real_label_studio(label_studio, our_backend, tiny_model, tmp_path,
                                                         write_jsonl, capsys):
    rows = write_jsonl("picks.jsonl", [{"id": f"p{i}", "text": t} for i, t in enumerate(TEXTS)])
    tasks_file = tmp_path / "tasks.json"
    assert main(["labelstudio", "export", str(rows), "--model", str(tiny_model), "--out", str(tasks_file)]) == 0
    exported = json.loads(tasks_file.read_text(encoding="utf-8"))
    config = (tmp_path / "labeling.xml").read_text(encoding="utf-8")

    project = ok(label_studio.post("/api/projects", json={"title": "policy-tagger test", "label_config": config}))
    ok(label_studio.post(f"/api/projects/{project['id']}/import", json=exported))
    tasks = ok(label_studio.get("/api/tasks", params={"project": project["id"], "fields": "all"}))
    tasks = tasks["tasks"] if isinstance(tasks, dict) else tasks
    assert sorted(t["data"]["text"] for t in tasks) == sorted(TEXTS)

    # the pre-annotations are there, with our model version and our scores
    by_text = {t["data"]["text"]: t for t in exported}
    for task in tasks:
        stored = ok(label_studio.get("/api/predictions", params={"task": task["id"]}))
        (prediction,) = stored
        expected = by_text[task["data"]["text"]]["predictions"][0]
        assert prediction["model_version"] == expected["model_version"]
        assert prediction["score"] == pytest.approx(expected["score"])
        assert prediction["result"] == expected["result"]

    # our service as the project's ML backend: Label Studio reaches it and gets a pre-annotation through it
    backend = ok(label_studio.post("/api/ml", json={"url": our_backend, "project": project["id"],
                                                    "title": "policy-tagger"}))
    assert ok(label_studio.get(f"/api/ml/{backend['id']}"))["state"] == "CO"  # connected: health and setup passed
    test = ok(label_studio.post(f"/api/ml/{backend['id']}/predict/test", params={"random": "true"}))
    (through,) = test["response"]  # what our /labelstudio/predict answered, as Label Studio received it
    expected = by_text[test["task"]["data"]["text"]]["predictions"][0]
    assert through["model_version"] == expected["model_version"] and through["result"] == expected["result"]

    # an annotator's choice, through the API; then the export and our import
    annotated = tasks[0]
    result = [{"from_name": "labels", "to_name": "text", "type": "choices",
               "value": {"choices": ["industry", "education"]}}]
    ok(label_studio.post(f"/api/tasks/{annotated['id']}/annotations", json={"result": result}))
    export = ok(label_studio.get(f"/api/projects/{project['id']}/export", params={"exportType": "JSON"}))
    export_file = tmp_path / "export.json"
    export_file.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "annotated.jsonl"
    assert main(["labelstudio", "import", str(export_file), "--out", str(out)]) == 0
    back = read_labelled(out, ["industry", "relocation", "education", "health", "social_security", "supervision"])
    assert [(r["text"], r["labels"]) for r in back] == [(annotated["data"]["text"], ["industry", "education"])]
    assert back[0]["id"] == annotated["data"]["ref_id"]

"""`label --engine ray`: one run on a local Ray with 2 CPUs (each start costs seconds), checked against the
local engine on the same input."""
from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from policy_tagger.cli.main import main
from policy_tagger.service.errors import UsageError
from policy_tagger.service.paths import DATA_DIR

EXE = Path(sys.executable).parent / "policy-tagger"
HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="the ray extra is not installed")
BAD_IDS = {"bad-empty", "bad-number"}


def ray_pids() -> set[str]:
    listing = subprocess.run(["ps", "-u", str(os.getuid()), "-o", "pid=,comm="],
                             capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in listing.splitlines()
            if any(name in line for name in ("raylet", "gcs_server", "ray::"))}


def label(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(EXE), "label", *args, "--quiet"], capture_output=True, text=True, timeout=600)


def read_parts(folder: Path, prefix: str) -> list[dict]:
    return [json.loads(line) for part in sorted(folder.glob(f"{prefix}-*.jsonl"))
            for line in part.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list[Path]:
    work = tmp_path_factory.mktemp("ray-inputs")
    corpus = [json.loads(line) for line in (DATA_DIR / "test.jsonl").read_text(encoding="utf-8").splitlines()[:40]]
    jsonl = work / "rows.jsonl"
    lines = [json.dumps({"id": f"j{i}", "text": r["text"], "county": f"县{i}", "labels": r["labels"]},
                        ensure_ascii=False) for i, r in enumerate(corpus[:30])]
    lines[5:5] = ['{"id": "bad-empty", "text": "  "}', '{"id": "bad-number", "text": 5}', '{"id": broken', ""]
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = work / "rows.csv"
    with open(table, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "text", "year"])
        writer.writerows([f"00{i}", r["text"], "2018"] for i, r in enumerate(corpus[30:]))
    return [jsonl, table]


@pytest.fixture(scope="module")
def runs(tiny_model, inputs, tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("ray-runs")
    before = ray_pids()
    ray = label(*map(str, inputs), "--model", str(tiny_model), "--engine", "ray", "--workers", "2",
                "--out", str(work / "parts"))
    local = label(*map(str, inputs), "--model", str(tiny_model), "--skip-bad", "--out", str(work / "local.jsonl"))
    return {"ray": ray, "local": local, "inputs": inputs, "parts": work / "parts", "local_out": work / "local.jsonl",
            "left_over": ray_pids() - before}


@needs_ray
def test_ray_rows_equal_the_local_engines(runs):
    assert runs["ray"].returncode == 0, runs["ray"].stderr
    by_id = {r["id"]: r for r in read_parts(runs["parts"], "part")}
    local = [json.loads(line) for line in runs["local_out"].read_text(encoding="utf-8").splitlines()]
    assert sorted(by_id) == sorted(r["id"] for r in local) and len(by_id) == 40
    for expected in local:
        got = by_id[expected["id"]]
        assert list(got) == list(expected)  # same fields, same order: kept columns, input_labels, results
        assert {k: v for k, v in got.items() if k != "scores"} == {k: v for k, v in expected.items() if k != "scores"}
        assert all(abs(got["scores"][k] - v) <= 0.01 for k, v in expected["scores"].items())
    assert by_id["003"]["year"] == "2018"  # CSV cells stay strings, as locally: "003", not 3
    assert "read 43 rows, wrote 40, skipped 3" in runs["ray"].stderr


@needs_ray
def test_bad_rows_are_reported_with_their_id_not_lost(runs):
    errors = read_parts(runs["parts"], "_errors")
    assert len(errors) == 3
    assert {e["id"] for e in errors} == BAD_IDS | {None}  # the broken JSON line has no id to give
    assert sorted(e["where"] for e in errors) == [f"{runs['inputs'][0]}:{n}" for n in (6, 7, 8)]
    assert any("not valid JSON" in e["error"] for e in errors)
    assert all(f"(id {bad})" in runs["ray"].stderr for bad in BAD_IDS)


@needs_ray
def test_no_ray_process_is_left_behind(runs):
    assert runs["ray"].returncode == 0, runs["ray"].stderr
    assert not runs["left_over"]


@needs_ray
def test_a_run_inside_a_program_leaves_the_programs_own_children_alone(tiny_model, inputs, tmp_path):
    sleeper = subprocess.Popen(["sleep", "300"])
    try:
        assert main(["label", str(inputs[1]), "--model", str(tiny_model), "--engine", "ray", "--workers", "1",
                     "--out", str(tmp_path / "parts"), "--quiet"]) == 0
        assert sleeper.poll() is None  # still running: only the local Ray's processes were waited for
    finally:
        sleeper.kill()
        sleeper.wait()


def test_ray_engine_needs_an_output_folder(tiny_model, capsys):
    assert main(["label", str(DATA_DIR / "test.jsonl"), "--model", str(tiny_model), "--engine", "ray"]) == 2
    assert "--engine ray needs --out DIR" in capsys.readouterr().err


def test_missing_ray_extra_names_the_install_command(monkeypatch):
    from policy_tagger.service.ray_engine import import_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: `import ray` raises ImportError
    with pytest.raises(UsageError, match=r"pip install 'policy-tagger\[ray\]'"):
        import_ray()

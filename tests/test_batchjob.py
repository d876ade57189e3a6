"""Batch jobs survive kill -9: --resume finishes with every input row exactly once, in input order."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from policy_tagger.cli.main import main
from policy_tagger.service.errors import InputError, UsageError

EXE = str(Path(sys.executable).parent / "policy-tagger")
SENTENCES = ["全县建成扶贫车间{}个，带动贫困劳动力就近就业。", "为{}名贫困学生发放助学金。", "落实低保兜底，{}户应保尽保。",
             "新建通组硬化路{}公里。", "开展第{}轮脱贫攻坚专项督查。", "家庭医生签约服务覆盖{}户贫困户。"]


def make_input(path: Path, n: int) -> list[str]:
    ids = [f"row-{i}" for i in range(n)]
    path.write_text("".join(json.dumps({"id": rid, "text": SENTENCES[i % 6].format(i)}, ensure_ascii=False) + "\n"
                            for i, rid in enumerate(ids)), encoding="utf-8")
    return ids


def test_kill_9_then_resume_gives_every_row_once_in_order(tiny_model, tmp_path):
    ids = make_input(tmp_path / "in.jsonl", 1500)
    out = tmp_path / "out.jsonl"
    partial = tmp_path / ".out.jsonl.partial.jsonl"
    command = [EXE, "label", str(tmp_path / "in.jsonl"), "--model", str(tiny_model), "--out", str(out),
               "--quiet", "--batch-size", "8"]
    kills = 0
    for attempt in range(12):
        proc = subprocess.Popen(command + (["--resume"] if attempt else []), stderr=subprocess.PIPE)
        seen = partial.stat().st_size if partial.exists() else 0
        deadline = time.time() + 120
        while proc.poll() is None and time.time() < deadline:
            if partial.exists() and partial.stat().st_size > seen:  # it wrote some rows: kill it mid-run
                time.sleep(0.05 * attempt)
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
                break
            time.sleep(0.01)
        proc.wait()
        if out.exists():  # finished, possibly killed just after the final rename
            break
    assert kills >= 1 and out.exists()
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ids
    assert not partial.exists()


def test_resume_refuses_a_checkpoint_from_other_input(capsys, tiny_model, tmp_path):
    make_input(tmp_path / "in.jsonl", 5)
    out = tmp_path / "out.jsonl"
    (tmp_path / ".out.jsonl.partial.jsonl").write_text(json.dumps({"id": "other", "text": "x"}) + "\n")
    code = main(["label", str(tmp_path / "in.jsonl"), "--model", str(tiny_model), "--out", str(out), "--resume",
                 "--quiet"])
    assert code == InputError.exit_code and "written for other input" in capsys.readouterr().err
    assert not out.exists()


def test_resume_to_csv_and_resume_without_out(capsys, tiny_model, tmp_path):
    ids = make_input(tmp_path / "in.jsonl", 20)
    out = tmp_path / "out.csv"
    args = ["label", str(tmp_path / "in.jsonl"), "--model", str(tiny_model), "--out", str(out), "--quiet"]
    assert main(args) == 0
    first = out.read_text(encoding="utf-8")
    out.unlink()
    assert main(args + ["--resume"]) == 0  # nothing to resume: a fresh run
    assert out.read_text(encoding="utf-8") == first and first.count("row-") == len(ids)
    assert main(["label", str(tmp_path / "in.jsonl"), "--model", str(tiny_model), "--resume"]) == UsageError.exit_code

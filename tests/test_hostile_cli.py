"""What a hostile user tried on the command line (issue 13): each test failed before its fix."""
import csv
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from policy_tagger.cli.main import main
from policy_tagger.service.errors import InputError, UsageError

EXE = str(Path(sys.executable).parent / "policy-tagger")


def run(capsys, *args):
    code = main(["label", *map(str, args), "--quiet"])
    out, err = capsys.readouterr()
    return code, out, err


def rows_of(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_unpaired_surrogate_is_bad_input_named_by_line(capsys, tiny_model, tmp_path):  # 1
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "落实低保兜底政策。"}\n{"text": "全县\\ud800建成扶贫车间。"}\n{"id": "\\udfff", "text": "x县"}\n'
                    '{"text": "新建农村公路200公里。"}\n', encoding="utf-8")
    code, out, err = run(capsys, path, "--model", tiny_model)
    assert code == InputError.exit_code and out == "" and f"{path}:2: text: unpaired surrogate U+D800" in err
    code, out, err = run(capsys, path, "--model", tiny_model, "--skip-bad")
    assert code == 0 and [r["text"] for r in rows_of(out)] == ["落实低保兜底政策。", "新建农村公路200公里。"]
    assert f"{path}:3: id: unpaired surrogate U+DFFF" in err and "read 4 rows, wrote 2, skipped 2" in err


def test_a_second_run_on_the_same_output_is_refused(tiny_model, tmp_path):  # 2
    from filelock import FileLock

    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "落实低保兜底政策。"}\n', encoding="utf-8")
    out = tmp_path / "o.jsonl"
    with FileLock(str(tmp_path / ".o.jsonl.lock")):  # what a first run holds while it works
        for extra in ([], ["--resume"]):
            proc = subprocess.run([EXE, "label", str(src), "--model", str(tiny_model), "--out", str(out), "--quiet",
                                   *extra], capture_output=True, text=True, timeout=120)
            assert proc.returncode == UsageError.exit_code and "another policy-tagger run is writing" in proc.stderr
            assert not out.exists()
    assert main(["label", str(src), "--model", str(tiny_model), "--out", str(out), "--quiet"]) == 0
    assert len(rows_of(out.read_text(encoding="utf-8"))) == 1 and not (tmp_path / ".o.jsonl.lock").exists()


def test_two_concurrent_runs_never_lose_rows(tiny_model, tmp_path):  # 2, as reported
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps({"id": str(i), "text": f"全县建成扶贫车间{i}个。"}, ensure_ascii=False) + "\n"
                           for i in range(1500)), encoding="utf-8")
    out = tmp_path / "o.jsonl"
    command = [EXE, "label", str(src), "--model", str(tiny_model), "--out", str(out), "--quiet"]
    first, second = subprocess.Popen(command, stderr=subprocess.PIPE), subprocess.Popen(command, stderr=subprocess.PIPE)
    codes = sorted([first.wait(timeout=300), second.wait(timeout=300)])
    assert codes in ([0, 0], [0, UsageError.exit_code])  # the second either refused, or started after the first
    assert [r["id"] for r in rows_of(out.read_text(encoding="utf-8"))] == [str(i) for i in range(1500)]


@pytest.mark.parametrize("resume", [False, True])
def test_csv_output_keeps_texts_with_unicode_line_separators(capsys, tiny_model, tmp_path, resume):  # 7
    texts = ["落实低保\u2028兜底政策。", "建成扶贫车间\u0085带动就业。", "新建农村公路\r200公里。"]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts)),
                   encoding="utf-8")
    out = tmp_path / "out.csv"
    args = [src, "--model", tiny_model, "--out", out] + (["--resume"] if resume else [])
    code, _, err = run(capsys, *args)
    assert code == 0, err
    with open(out, encoding="utf-8", newline="") as f:
        assert [r["text"] for r in csv.DictReader(f)] == texts


def test_a_very_long_csv_cell_is_read(capsys, tiny_model, tmp_path):  # 8
    long_text = "全县统筹整合财政涉农资金用于产业发展，" * 8000  # 152,000 characters
    src = tmp_path / "in.csv"
    with open(src, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["id", "text"], ["a", long_text], ["b", "落实低保兜底政策。"]])
    code, out, err = run(capsys, src, "--model", tiny_model)
    assert code == 0, err
    assert [len(r["text"]) for r in rows_of(out)] == [len(long_text), 9]


def test_an_unclosed_quote_is_bad_input_not_a_merged_row(capsys, tiny_model, tmp_path):  # 9
    src = tmp_path / "in.csv"
    src.write_text('id,text\na,落实低保兜底政策。\nb,"建成扶贫车间32个\nc,新建农村公路。\nd,为贫困学生发放助学金。\n',
                   encoding="utf-8")
    code, out, err = run(capsys, src, "--model", tiny_model, "--skip-bad")
    assert code == InputError.exit_code and f"{src}:3" in err and "quoted cell" in err


def test_retagging_a_tagged_file_keeps_every_input_field(capsys, tiny_model, tmp_path):  # 10
    src = tmp_path / "tagged.jsonl"
    src.write_text(json.dumps({"id": "r1", "text": "落实低保兜底政策。", "labels": ["health"],
                               "input_labels": ["industry"], "score_industry": 0.3}) + "\n", encoding="utf-8")
    code, out, _ = run(capsys, src, "--model", tiny_model)
    row = rows_of(out)[0]
    assert code == 0 and row["input_labels"] == ["industry"] and row["input_labels_2"] == ["health"]
    assert row["input_score_industry"] == 0.3 and "score_industry" not in row
    out_csv = tmp_path / "again.csv"
    assert run(capsys, src, "--model", tiny_model, "--out", out_csv)[0] == 0
    header = next(csv.reader(io.StringIO(out_csv.read_text(encoding="utf-8"))))
    assert header.count("score_industry") == 1 and "input_score_industry" in header
    assert next(csv.DictReader(io.StringIO(out_csv.read_text(encoding="utf-8"))))["input_score_industry"] == "0.3"


def test_output_through_a_symlink_and_into_a_pipe(capsys, tiny_model, tmp_path):  # 11
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "落实低保兜底政策。"}\n', encoding="utf-8")
    real = tmp_path / "real.jsonl"
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    assert run(capsys, src, "--model", tiny_model, "--out", link)[0] == 0
    assert link.is_symlink() and len(rows_of(real.read_text(encoding="utf-8"))) == 1
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    received = {}
    reader = threading.Thread(target=lambda: received.setdefault("text", fifo.read_text(encoding="utf-8")))
    reader.start()
    assert run(capsys, src, "--model", tiny_model, "--out", fifo)[0] == 0
    reader.join(timeout=60)
    assert len(rows_of(received["text"])) == 1 and fifo.is_fifo()
    assert run(capsys, src, "--model", tiny_model, "--out", fifo, "--resume")[0] == UsageError.exit_code


def test_output_path_is_checked_before_any_work(capsys, tiny_model, tmp_path):  # 12
    src = tmp_path / "in.jsonl"
    content = '{"text": "落实低保兜底政策。"}\n'
    src.write_text(content, encoding="utf-8")
    code, _, err = run(capsys, src, "--model", tiny_model, "--out", tmp_path)
    assert code == UsageError.exit_code and "is a folder" in err and "read " not in err
    code, _, err = run(capsys, src, "--model", tiny_model, "--out", src)
    assert code == UsageError.exit_code and "is one of the inputs" in err
    assert src.read_text(encoding="utf-8") == content


def test_resume_with_another_model_or_edited_rows_is_refused(capsys, tiny_model, tmp_path):  # 14
    import shutil

    src = tmp_path / "in.jsonl"
    rows = [{"id": str(i), "text": f"全县建成扶贫车间{i}个。", "county": "甲县"} for i in range(5)]
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    partial = tmp_path / ".out.jsonl.partial.jsonl"
    assert run(capsys, src, "--model", tiny_model, "--out", out)[0] == 0
    out.rename(partial)  # as if the run had been killed just before the end
    other = tmp_path / "other-model"
    shutil.copytree(tiny_model, other)
    card = json.loads((other / "policy_tagger.json").read_text())
    card["version"] += "-other"
    (other / "policy_tagger.json").write_text(json.dumps(card))
    from policy_tagger.service.modelcard import write_manifest

    write_manifest(other)
    code, _, err = run(capsys, src, "--model", other, "--out", out, "--resume")
    assert code == InputError.exit_code and "written by model" in err
    rows[2]["county"] = "乙县"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    code, _, err = run(capsys, src, "--model", tiny_model, "--out", out, "--resume")
    assert code == InputError.exit_code and "row 3 differs in county" in err


def test_csv_cells_that_a_spreadsheet_would_run_are_escaped(capsys, tiny_model, tmp_path):  # 16
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "=HYPERLINK(\"http://x\")", "text": "+落实低保兜底政策。", "note": "@SUM(A1)",
                               "n": -3}, ensure_ascii=False) + "\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert run(capsys, src, "--model", tiny_model, "--out", out)[0] == 0
    row = next(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert row["id"] == "'=HYPERLINK(\"http://x\")" and row["text"] == "'+落实低保兜底政策。"
    assert row["note"] == "'@SUM(A1)" and row["n"] == "-3"


@pytest.mark.parametrize("env,args,named", [
    ({"POLICY_TAGGER_MAX_PARAGRAPHS": "abc"}, ["serve"], "POLICY_TAGGER_MAX_PARAGRAPHS / --max-paragraphs"),
    ({"POLICY_TAGGER_MAX_WAIT_MS": "inf"}, ["serve"], "POLICY_TAGGER_MAX_WAIT_MS"),
    ({"POLICY_TAGGER_API_KEYS_FILE": "/nonexistent/keys"}, ["serve"], "POLICY_TAGGER_API_KEYS_FILE"),
    ({"POLICY_TAGGER_API_KEYS": ",,,"}, ["serve"], "POLICY_TAGGER_API_KEYS"),
    ({}, ["label", "-", "--threads", "-1"], "POLICY_TAGGER_THREADS / --threads"),
    ({"POLICY_TAGGER_MAX_PARAGRAPHS": "5000"}, ["serve"], "MAX_QUEUED"),
])
def test_bad_settings_exit_2_naming_the_setting(tiny_model, env, args, named):  # 13, 16
    proc = subprocess.run([EXE, *args, "--model", str(tiny_model)], env={**os.environ, **env}, input="",
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == UsageError.exit_code and named in proc.stderr and "Traceback" not in proc.stderr


def test_a_keys_file_of_comments_is_refused_and_comments_are_never_keys(tmp_path):  # 13
    from policy_tagger.service.settings import load_settings

    only_comments = tmp_path / "comments"
    only_comments.write_text("# keys\n  # indented note\n\n", encoding="utf-8")
    with pytest.raises(UsageError, match="holds no key"):
        load_settings(api_keys_file=only_comments)
    with_bom = tmp_path / "keys"
    with_bom.write_text("\ufefffirst-key\n  # note\nsecond-key\n", encoding="utf-8")
    assert load_settings(api_keys_file=with_bom).api_keys == ["first-key", "second-key"]


def test_label_streams_rows_out_before_the_input_ends(tiny_model):  # 16: memory no longer grows with the input
    proc = subprocess.Popen([EXE, "label", "-", "--model", str(tiny_model), "--quiet"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    line = json.dumps({"text": "全县建成扶贫车间32个，带动就业。"}, ensure_ascii=False) + "\n"
    proc.stdin.write(line * 600)  # more than two chunks, then the input stays open
    proc.stdin.flush()
    first = proc.stdout.readline()  # arrives while stdin is still open: nothing waits for the whole input
    proc.stdin.close()
    rest = proc.stdout.read()
    assert proc.wait(timeout=120) == 0
    assert json.loads(first)["labels"] is not None and len(rest.splitlines()) == 599

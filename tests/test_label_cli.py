"""`policy-tagger label`: every input and output format, input order, kept fields, and clear errors."""
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from policy_tagger.cli.main import main
from policy_tagger.service.errors import InputError, UsageError

LABELS = {"industry", "relocation", "education", "health", "social_security", "supervision"}
DOC = "一、产业发展\n\n全县建成扶贫车间32个，带动1200余名贫困劳动力就近就业。\n\n二、兜底保障\n\n落实低保兜底政策，应保尽保。\n"


def run(capsys, *args):
    code = main(["label", *map(str, args), "--quiet"])
    out, err = capsys.readouterr()
    return code, out, err


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def check_row(row: dict, model_tag_start="policy-tagger-"):
    assert set(row["labels"]) <= LABELS
    assert set(row["scores"]) == LABELS and all(0.0 <= s <= 1.0 for s in row["scores"].values())
    assert row["model"].startswith(model_tag_start) and "@" in row["model"]


def test_jsonl_rows_keep_ids_fields_and_order(capsys, tiny_model, write_jsonl):
    rows = [{"id": f"r{i}", "text": t, "county": "某县", "labels": ["health"]}
            for i, t in enumerate(["全县建成扶贫车间32个。", "落实家庭医生签约服务。", "新建农村公路200公里。"])]
    code, out, err = run(capsys, write_jsonl("in.jsonl", rows), "--model", tiny_model)
    assert code == 0, err
    result = jsonl(out)
    assert [r["id"] for r in result] == ["r0", "r1", "r2"]
    assert all(r["county"] == "某县" and r["input_labels"] == ["health"] for r in result)
    for r in result:
        check_row(r)
    assert "read 3 rows, wrote 3, skipped 0" in err


def test_rows_without_id_get_file_and_line(capsys, tiny_model, write_jsonl):
    path = write_jsonl("noid.jsonl", [{"text": "全县建成扶贫车间32个。"}, "", {"text": "落实低保兜底政策。"}])
    code, out, _ = run(capsys, path, "--model", tiny_model)
    assert code == 0
    assert [r["id"] for r in jsonl(out)] == [f"{path}:1", f"{path}:3"]


def test_documents_become_paragraph_rows_with_sections(capsys, tiny_model, tmp_path):
    doc = tmp_path / "report.md"
    doc.write_text(DOC, encoding="utf-8")
    code, out, _ = run(capsys, doc, "--model", tiny_model)
    rows = jsonl(out)
    assert code == 0
    assert [(r["doc"], r["paragraph"], r["section"]) for r in rows] == [
        (str(doc), 0, "一、产业发展"), (str(doc), 1, "二、兜底保障")]
    assert rows[0]["text"].startswith("全县建成扶贫车间")


def test_gb18030_text_with_crlf(capsys, tiny_model, tmp_path):
    doc = tmp_path / "old.txt"
    doc.write_bytes(DOC.replace("\n", "\r\n").encode("gb18030"))
    code, out, _ = run(capsys, doc, "--model", tiny_model)
    assert code == 0 and [r["section"] for r in jsonl(out)] == ["一、产业发展", "二、兜底保障"]


def test_csv_in_and_csv_out(capsys, tiny_model, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,text,county\na1,全县建成扶贫车间32个。,甲县\na2,\"落实低保, 应保尽保。\",乙县\n", encoding="utf-8")
    out_file = tmp_path / "out.csv"
    code, _, err = run(capsys, src, "--model", tiny_model, "--out", out_file)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out_file.read_text(encoding="utf-8"))))
    assert [(r["id"], r["county"], r["text"]) for r in rows] == [("a1", "甲县", "全县建成扶贫车间32个。"),
                                                                   ("a2", "乙县", "落实低保, 应保尽保。")]
    assert all(set(r["labels"].split(";")) - {""} <= LABELS for r in rows)
    assert all(0 <= float(r["score_health"]) <= 1 for r in rows)


def test_jsonl_out_file_and_several_inputs_in_order(capsys, tiny_model, tmp_path, write_jsonl):
    doc = tmp_path / "a.txt"
    doc.write_text(DOC, encoding="utf-8")
    out_file = tmp_path / "sub" / "out.jsonl"
    code, out, _ = run(capsys, write_jsonl("b.jsonl", [{"id": "x", "text": "加大控辍保学力度。"}]), doc,
                       "--model", tiny_model, "--out", out_file)
    assert code == 0 and out == ""
    assert [r["id"] for r in jsonl(out_file.read_text(encoding="utf-8"))] == ["x", f"{doc}:0", f"{doc}:1"]


@pytest.mark.parametrize("stdin_text,expected_ids", [
    ('{"id": "s1", "text": "落实家庭医生签约服务。"}\n', ["s1"]),
    (DOC, ["stdin:0", "stdin:1"]),
])
def test_stdin_jsonl_or_document(tiny_model, stdin_text, expected_ids):
    proc = subprocess.run([sys.executable, "-m", "policy_tagger.cli", "label", "-", "--model", str(tiny_model), "--quiet"],
                          input=stdin_text.encode(), capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
    assert [r["id"] for r in jsonl(proc.stdout.decode())] == expected_ids


def test_bad_json_line_names_file_and_line(capsys, tiny_model, write_jsonl):
    path = write_jsonl("bad.jsonl", [{"text": "全县建成扶贫车间32个。"}, "{not json", {"text": "落实低保。"}])
    code, out, err = run(capsys, path, "--model", tiny_model)
    assert code == InputError.exit_code and out == ""
    assert f"{path}:2: not valid JSON" in err and "Traceback" not in err


def test_skip_bad_reports_and_counts(capsys, tiny_model, write_jsonl):
    path = write_jsonl("mixed.jsonl", [{"text": "全县建成扶贫车间32个。"}, "{not json", {"text": ""}, {"txt": "x"},
                                       [1, 2], {"text": 5}, {"text": "落实低保。"}])
    code, out, err = run(capsys, path, "--model", tiny_model, "--skip-bad")
    assert code == 0
    assert [r["text"] for r in jsonl(out)] == ["全县建成扶贫车间32个。", "落实低保。"]
    assert "read 7 rows, wrote 2, skipped 5" in err
    assert f"{path}:3: field 'text' is empty" in err


@pytest.mark.parametrize("content,message", [
    (b"id,body\n1,x\n", "needs a header row with a 'text' column"),
    (b"", "needs a header row with a 'text' column"),
    (b"\xff\xfe\x00\xd8\x00\xd8garbage\xff", "not UTF-8 or GB18030"),
])
def test_unusable_csv_files(capsys, tiny_model, tmp_path, content, message):
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    code, _, err = run(capsys, path, "--model", tiny_model)
    assert code == InputError.exit_code and message in err


def test_missing_folder_and_unknown_inputs(capsys, tiny_model, tmp_path):
    code, _, err = run(capsys, tmp_path / "nope.jsonl", "--model", tiny_model)
    assert code == InputError.exit_code and "no such file" in err
    (tmp_path / "x.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    code, _, err = run(capsys, tmp_path / "x.doc", "--model", tiny_model)
    assert code == InputError.exit_code and "unknown input type '.doc'" in err
    code, _, err = run(capsys, tmp_path, "--model", tiny_model)
    assert code == InputError.exit_code and "a folder with no file to label" in err


def test_missing_model_names_the_build_command(capsys, tmp_path, write_jsonl):
    code, _, err = run(capsys, write_jsonl("in.jsonl", [{"text": "落实低保。"}]), "--model", tmp_path / "none")
    assert code == UsageError.exit_code and "policy-tagger train" in err


def test_failed_run_leaves_no_output_file(capsys, tiny_model, tmp_path, write_jsonl):
    out_file = tmp_path / "out.jsonl"
    code, _, _ = run(capsys, write_jsonl("bad.jsonl", ["{oops"]), "--model", tiny_model, "--out", out_file)
    assert code == InputError.exit_code and not out_file.exists() and list(tmp_path.glob(".out.jsonl*")) == []


def test_console_script_reports_errors_without_traceback(tmp_path):
    exe = Path(sys.executable).parent / "policy-tagger"
    proc = subprocess.run([str(exe), "label", str(tmp_path / "missing.txt")], capture_output=True, timeout=120)
    assert proc.returncode in (UsageError.exit_code, InputError.exit_code)
    assert b"Traceback" not in proc.stderr and proc.stderr.startswith(b"policy-tagger:")


def test_messy_document_loses_nothing(capsys, tiny_model, tmp_path):
    long_line = "全县统筹整合财政涉农资金用于产业发展，" * 300 + "带动贫困户增收。"
    messy = ("\ufeff　　一、產業扶貧\r\n\r\n　　全縣建成扶貧車間32個，帶動1200餘名貧困勞動力就近就業。\r\n\r\n\r\n"
             "  Our county built 32 poverty-alleviation workshops (扶贫车间), employing 1,200 people.\r\n\r\n"
             + long_line + "\r\n\r\n\t \r\n")
    doc = tmp_path / "messy.txt"
    doc.write_text(messy, encoding="utf-8")
    code, out, err = run(capsys, doc, "--model", tiny_model)
    rows = jsonl(out)
    assert code == 0, err
    assert [r["section"] for r in rows] == ["一、產業扶貧"] * 3
    assert rows[0]["text"].startswith("全縣建成扶貧車間") and rows[1]["text"].startswith("Our county built")
    assert rows[2]["text"] == long_line and "read 3 rows, wrote 3, skipped 0" in err


def test_gbk_csv_and_short_rows(capsys, tiny_model, tmp_path):
    src = tmp_path / "gbk.csv"
    src.write_bytes("id,text\nk1,落实低保兜底政策。\nk2\n".encode("gbk"))
    code, out, err = run(capsys, src, "--model", tiny_model, "--skip-bad")
    assert code == 0 and [r["id"] for r in jsonl(out)] == ["k1"]
    assert f"{src}:3: field 'text' is missing" in err and "read 2 rows, wrote 1, skipped 1" in err


def test_parquet_out_keeps_the_columns_of_every_input(capsys, tiny_model, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"id": ["p1"], "text": ["全县建成扶贫车间32个。"], "county": ["甲县"]}), rows)
    doc = tmp_path / "report.txt"
    doc.write_text("一、产业扶贫\n全县建成扶贫车间32个，带动贫困劳动力就业。\n", encoding="utf-8")
    out = tmp_path / "out.parquet"
    code, _, err = run(capsys, rows, doc, "--model", tiny_model, "--out", out)
    assert code == 0, err
    table = pq.read_table(out).to_pylist()
    assert table[0]["county"] == "甲县" and table[0]["doc"] is None
    assert table[1]["doc"] == str(doc) and table[1]["paragraph"] == 0 and table[1]["section"] == "一、产业扶贫"


def test_parquet_in_and_out(capsys, tiny_model, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ["p1", None], "text": ["全县建成扶贫车间32个。", "落实低保兜底政策。"],
                             "county": ["甲县", "乙县"], "year": [2018, 2019]}), src)
    out = tmp_path / "out.parquet"
    code, _, err = run(capsys, src, "--model", tiny_model, "--out", out)
    assert code == 0, err
    table = pq.read_table(out)
    assert table.column("id").to_pylist() == ["p1", f"{src}:row 2"]
    assert table.column("county").to_pylist() == ["甲县", "乙县"] and table.column("year").to_pylist() == [2018, 2019]
    assert pa.types.is_list(table.schema.field("labels").type)
    assert set(LABELS) <= {name.removeprefix("score_") for name in table.column_names}
    assert all(0 <= s <= 1 for s in table.column("score_health").to_pylist())
    (tmp_path / "no_text.parquet").write_bytes(b"")
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "no_text.parquet")
    code, _, err = run(capsys, tmp_path / "no_text.parquet", "--model", tiny_model)
    assert code == InputError.exit_code and "needs a 'text' column" in err

"""Region and year of each document: from the title or a date line, else the text; null when unknown."""
import json
from pathlib import Path

from policy_tagger.cli.main import main
from policy_tagger.service.metadata import document_metadata

ROOT = Path(__file__).resolve().parents[1]
BODY = "全县建成扶贫车间32个，带动1200余名贫困劳动力就近就业，人均月增收2000元以上。"


def test_seed_documents_get_their_county_and_year():
    found = {p.name[:3]: document_metadata(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "seeds").glob("*.txt"))}
    assert found["000"] == {"region": "贵州省铜仁市思南县", "year": 2016}  # latest year the text reports on
    assert found["003"] == {"region": "甘肃省张掖市山丹县", "year": 2017}  # the date line 日期:2017-10-23
    assert found["004"]["region"] == "湖北省十堰市房县"


def test_title_year_wins_over_later_years_in_the_text():
    text = f"定西市安定区2018年脱贫攻坚工作总结\n\n{BODY}到2020年，全面完成脱贫任务。\n"
    assert document_metadata(text) == {"region": "甘肃省定西市安定区", "year": 2018}


def test_unknown_region_and_year_are_null():
    assert document_metadata(f"工作总结\n\n{BODY}\n") == {"region": None, "year": None}
    assert document_metadata(f"{BODY}1035年的旧事不算，2999年也不算。\n")["year"] is None


def test_document_rows_carry_metadata_and_row_inputs_keep_their_own(capsys, tiny_model, tmp_path):
    (tmp_path / "doc.txt").write_text(f"山丹县2017年精准扶贫工作纪实\n\n{BODY}\n", encoding="utf-8")
    (tmp_path / "rows.jsonl").write_text(json.dumps({"text": BODY, "region": "某省某县", "year": 2009},
                                                    ensure_ascii=False) + "\n", encoding="utf-8")
    code = main(["label", str(tmp_path / "doc.txt"), str(tmp_path / "rows.jsonl"), "--model", str(tiny_model),
                 "--quiet"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [(r["region"], r["year"]) for r in rows] == [("甘肃省张掖市山丹县", 2017), ("某省某县", 2009)]


def test_api_document_rows_carry_metadata(tagger):
    from fastapi.testclient import TestClient

    from policy_tagger.service.api import create_app
    from policy_tagger.service.settings import Settings

    doc = f"山丹县2017年精准扶贫工作纪实\n\n{BODY}\n"
    with TestClient(create_app(tagger, Settings())) as client:
        rows = client.post("/v1/classify-document", json={"text": doc}).json()["results"]
    assert [(r["region"], r["year"]) for r in rows] == [("甘肃省张掖市山丹县", 2017)]

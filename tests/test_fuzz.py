"""Property-based tests: the API against its own OpenAPI schema, and the splitter and readers on any text."""
import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_tagger.service.api import create_app
from policy_tagger.service.errors import InputError
from policy_tagger.service.readers import read_rows
from policy_tagger.service.segment import split_blocks, split_paragraphs
from policy_tagger.service.settings import Settings

# derandomize: CI runs the same examples every time; raise max_examples locally to search further.
FUZZ_SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def api_schema(tagger):
    app = create_app(tagger, Settings(max_paragraphs=8, max_chars=500, max_body_bytes=50_000))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize("path,method", [("/v1/classify", "POST"), ("/v1/classify-document", "POST"),
                                         ("/v1/classify-file", "POST"),
                                         ("/v1/labels", "GET"), ("/healthz", "GET"), ("/readyz", "GET")])
def test_api_never_fails_on_any_request(api_schema, path, method):
    @given(api_schema[path][method].as_strategy())
    @FUZZ_SETTINGS
    def check(case):
        check_response(case, case.call())

    check()


def check_response(case, response):
    assert response.status_code < 500, response.text
    body = response.json()
    if response.status_code >= 400:
        assert set(body) >= {"error", "detail"}
    elif case.path == "/v1/classify" and case.method == "POST":
        assert len(body["results"]) == len(case.body["paragraphs"])


chinese_text = st.lists(st.sampled_from(list("扶贫搬迁教育医疗低保督查。，；：“”（）一二三、 \n\r\t\u3000#□摄图为1.")
                                       + ["\n\n", "记者 ", "一、", "（二）", "## ", "全县建成扶贫车间32个，"]),
                       max_size=200).map("".join)


@given(st.one_of(chinese_text, st.text(max_size=300)))
@FUZZ_SETTINGS
def test_splitter_never_crashes_and_loses_no_body_text(text):
    blocks = split_blocks(text)
    paragraphs = split_paragraphs(text)
    assert [p.index for p in paragraphs] == list(range(len(paragraphs)))
    assert [p.text for p in paragraphs] == [b.text for b in blocks if b.kind == "body"]
    assert all(p.text.strip() == p.text and p.text for p in paragraphs)


row_value = st.one_of(st.none(), st.integers(), st.text(max_size=30), st.lists(st.integers(), max_size=3))


@given(st.lists(st.one_of(st.dictionaries(st.sampled_from(["id", "text", "county", "labels"]), row_value, max_size=4),
                          st.text(max_size=20)), max_size=12))
@FUZZ_SETTINGS
def test_jsonl_reader_keeps_every_good_row_and_reports_every_bad_one(tmp_path_factory, items):
    path = tmp_path_factory.mktemp("fuzz") / "in.jsonl"
    lines = [json.dumps(i, ensure_ascii=False) if isinstance(i, dict) else i.replace("\n", " ") for i in items]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = read_rows([str(path)], skip_bad=True)
    nonblank = [line for line in lines if line.strip()]
    assert len(report.rows) + len(report.skipped) == len(nonblank)
    assert all(isinstance(r["text"], str) and r["text"].strip() for r in report.rows)
    if report.skipped:
        with pytest.raises(InputError):
            read_rows([str(path)])


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40), min_size=1, max_size=10))
@FUZZ_SETTINGS
def test_csv_reader_round_trips_any_text(tmp_path_factory, texts):
    import csv

    path = tmp_path_factory.mktemp("fuzz") / "in.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        writer.writerows([[str(i), t] for i, t in enumerate(texts)])
    report = read_rows([str(path)], skip_bad=True)
    good = [t for t in texts if t.strip()]
    assert [r["text"] for r in report.rows] == good
    assert len(report.rows) + len(report.skipped) == len(texts)

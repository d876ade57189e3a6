"""POST /v1/classify-file: real Word and text uploads read as `label` reads them, the limits, bad and
unsupported files; and the web page's files at `/`, open without an API key."""
import io

import pytest
from fastapi.testclient import TestClient

from policy_tagger.service.api import create_app
from policy_tagger.service.settings import Settings

LABELS = ["industry", "relocation", "education", "health", "social_security", "supervision"]
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture(scope="module")
def client(tagger):
    with TestClient(create_app(tagger, Settings(max_paragraphs=5, max_chars=300, max_body_bytes=60_000))) as c:
        yield c


def word_file(paragraphs: list[tuple[str, str | None]]) -> bytes:
    import docx

    document = docx.Document()
    for text, style in paragraphs:
        document.add_paragraph(text, style=style)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def upload(client, name: str, data: bytes, kind: str = "application/octet-stream", **form):
    return client.post("/v1/classify-file", files={"file": (name, data, kind)}, data=form)


def test_word_file_gives_rows_with_sections_and_evidence(client, tagger):
    data = word_file([("一、产业发展", "Heading 1"), ("全县建成扶贫车间32个，带动1200余名贫困劳动力就近就业。", None),
                      ("二、兜底保障", "Heading 1"), ("落实低保兜底政策，应保尽保，对重度残疾人发放护理补贴。", None)])
    response = upload(client, "county-2018.docx", data, DOCX, evidence="true")
    assert response.status_code == 200, response.text
    body = response.json()
    rows = body["results"]
    assert [(r["id"], r["doc"], r["paragraph"], r["section"]) for r in rows] == [
        ("county-2018.docx:0", "county-2018.docx", 0, "一、产业发展"),
        ("county-2018.docx:1", "county-2018.docx", 1, "二、兜底保障")]
    expected = tagger.tag([r["text"] for r in rows])
    assert [r["labels"] for r in rows] == [p.labels for p in expected]
    assert all(set(r["evidence"]) == set(r["labels"]) and r["model"] == tagger.model_tag for r in rows)
    for row in rows:
        assert all(row["text"][c["start"]:c["end"]] == c["text"] for cs in row["evidence"].values() for c in cs)
    assert body["summary"]["label_counts"] == {l: sum(l in r["labels"] for r in rows) for l in LABELS}


def test_text_file_in_gb18030_reads_like_the_cli(client):
    text = "二、教育扶贫\n\n全面落实控辍保学，发放助学金。\n"
    response = upload(client, "report.txt", text.encode("gb18030"), "text/plain")
    assert response.status_code == 200, response.text
    rows = response.json()["results"]
    assert [(r["text"], r["section"]) for r in rows] == [("全面落实控辍保学，发放助学金。", "二、教育扶贫")]
    assert "evidence" not in rows[0]  # only when asked for


def test_table_file_rows_keep_their_ids(client):
    response = upload(client, "rows.csv", "id,text,year\na1,落实低保兜底政策。,n/a\n".encode(), "text/csv")
    assert response.status_code == 200, response.text
    [row] = response.json()["results"]
    assert (row["id"], row["doc"], row["text"]) == ("a1", "rows.csv", "落实低保兜底政策。")


@pytest.mark.parametrize("name,data,status,error,says", [
    ("broken.docx", b"PK\x03\x04 not really a zip", 422, "invalid_input", "broken.docx: not a readable Word"),
    ("empty.txt", b"\n\n", 422, "empty_text", "no paragraphs"),
    ("setup.exe", b"MZ\x90\x00", 415, "unsupported_file_type", "cannot read '.exe' files; send one of"),
    ("noname", b"text", 415, "unsupported_file_type", "'(none)'"),
    ("long.txt", ("低" * 301).encode(), 413, "text_too_long", "at most 300"),
    ("many.txt", "\n\n".join(f"第{i}段，落实低保政策。" for i in range(6)).encode(), 413, "too_many_paragraphs",
     "at most 5"),
    ("big.txt", "落实低保。\n".encode() * 5000, 413, "body_too_large", "at most 60000"),
])
def test_bad_files_get_a_clear_error(client, name, data, status, error, says):
    response = upload(client, name, data)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error and says in str(response.json()["detail"])


def test_no_file_is_a_validation_error_and_the_endpoint_is_documented(client):
    response = client.post("/v1/classify-file", data={"evidence": "true"})
    assert response.status_code == 422 and response.json()["error"] == "invalid_request"
    operation = client.get("/openapi.json").json()["paths"]["/v1/classify-file"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
    assert {"200", "413", "415", "422"} <= set(operation["responses"])


def test_page_and_its_files_load_without_a_key_the_api_still_needs_one(tagger):
    with TestClient(create_app(tagger, Settings(api_keys=["k1"]))) as c:
        page = c.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert '<script src="/static/app.js"' in page.text
        assert "/v1/classify-file" in c.get("/static/app.js").text
        assert c.get("/static/style.css").status_code == 200
        assert c.get("/static/nothing.js").status_code == 404
        assert c.post("/v1/classify-file", files={"file": ("a.txt", "落实低保。".encode())}).status_code == 401
        response = c.post("/v1/classify-file", files={"file": ("a.txt", "落实低保。".encode())},
                          headers={"X-API-Key": "k1"})
        assert response.status_code == 200
        assert "/" not in c.get("/openapi.json", headers={"X-API-Key": "k1"}).json()["paths"]

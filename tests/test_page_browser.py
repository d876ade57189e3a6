"""The page at `/` of a running `policy-tagger serve`, as a user sees it in headless Chromium: paste a seed
document, tag it, see labels, evidence and the summary, download the rows; upload files; the API key."""
import csv
import io
import json
import os
from pathlib import Path

from headless import console_errors, paste_and_tag, press_tag
from local_server import local_server

from policy_tagger.service.documents import document_rows

ROOT = Path(__file__).resolve().parents[1]
SEED = sorted((ROOT / "seeds").glob("*.txt"))[0]
CAPTURE_DOWNLOADS = """
window.downloads = [];
const make = URL.createObjectURL;
URL.createObjectURL = (blob) => { window.downloads.push(blob); return make(blob); };"""


def by_css(browser, selector):
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, selector)


def downloaded(browser, button_id: str) -> str:
    """Presses a download button and returns the text of the file it made."""
    browser.find_element("id", button_id).click()
    return browser.execute_async_script(
        "const done = arguments[0]; window.downloads[window.downloads.length - 1].text().then(done);")


def wait_for_labels(browser):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 30).until(lambda d: d.find_element("id", "model").text.startswith("model "))


def test_pasted_seed_document_shows_labels_evidence_summary_and_downloads(tiny_model, tmp_path, browser):
    text = SEED.read_text(encoding="utf-8")
    expected = document_rows(text, "document")
    with local_server(tiny_model, tmp_path / "server.log") as (_, base):
        browser.get(base + "/")
        wait_for_labels(browser)
        assert not browser.find_element("id", "api-key").is_displayed()  # this server has no keys
        browser.execute_script(CAPTURE_DOWNLOADS)
        shown = paste_and_tag(browser, text)
        assert len(shown) == len(expected) and not browser.find_element("id", "error").is_displayed()
        rows = [json.loads(line) for line in downloaded(browser, "download-jsonl").splitlines()]
        assert [r["text"] for r in rows] == [r["text"] for r in expected]
        for tr, row in zip(shown, rows):  # what the page shows is what the API answered
            chips = [small.text for small in tr.find_elements("css selector", "td.labels .chip small")]
            assert chips == [label.replace("_", " ") for label in row["labels"]]
            marks = tr.find_elements("css selector", "mark")
            marked = {label for m in marks for label in m.get_attribute("data-labels").split()}
            assert marked == {label for label, clauses in row["evidence"].items() if clauses}
            for mark in marks:  # each highlight lies inside a clause of each label it names
                assert all(any(mark.text in c["text"] for c in row["evidence"][label])
                           for label in mark.get_attribute("data-labels").split())
            assert tr.find_element("css selector", "td.text").text == row["text"]
        assert any(r["labels"] for r in rows) and by_css(browser, "td.text mark")
        sections = [th.text for th in by_css(browser, "#paragraphs tr.section th")]
        assert sections == list(dict.fromkeys(r["section"] for r in expected if r["section"]))
        counts = [int(td.text) for td in by_css(browser, "#summary tbody td.num")]
        labels = list(rows[0]["scores"])
        assert counts == [sum(label in r["labels"] for r in rows) for label in labels]
        assert by_css(browser, "#summary tbody tr .chip")[0].text == "产业扶贫（含就业、金融）"
        table = list(csv.DictReader(io.StringIO(downloaded(browser, "download-csv").removeprefix("\ufeff"))))
        assert [t["labels"] for t in table] == [";".join(r["labels"]) for r in rows]
        assert [float(t["score_health"]) for t in table] == [r["scores"]["health"] for r in rows]
        assert console_errors(browser) == []
        screenshot(browser, tmp_path, "page-screenshot.png")


def test_uploaded_files_are_tagged_or_their_error_is_shown(tiny_model, tmp_path, browser):
    import docx

    good, bad = tmp_path / "county.docx", tmp_path / "broken.docx"
    document = docx.Document()
    document.add_paragraph("一、产业发展", style="Heading 1")
    document.add_paragraph("全县建成扶贫车间32个，带动1200余名贫困劳动力就近就业。")
    document.save(good)
    bad.write_bytes(b"PK\x03\x04 not a Word file")
    with local_server(tiny_model, tmp_path / "server.log") as (_, base):
        browser.get(base + "/")
        wait_for_labels(browser)
        browser.find_element("id", "file").send_keys(str(good))
        rows = press_tag(browser)
        assert len(rows) == 1 and "county.docx" in browser.find_element("id", "doc-info").text
        assert [th.text for th in by_css(browser, "#paragraphs tr.section th")] == ["一、产业发展"]
        browser.find_element("id", "file").send_keys(str(bad))
        assert press_tag(browser) == []
        error = browser.find_element("id", "error").text
        assert "could not use this input" in error and "broken.docx: not a readable Word .docx file" in error


def test_a_server_with_keys_asks_for_one_and_says_when_it_is_wrong(tiny_model, tmp_path, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    with local_server(tiny_model, tmp_path / "server.log", args=("--api-keys", "s3cret")) as (_, base):
        browser.get(base + "/")
        key = browser.find_element("id", "api-key")
        WebDriverWait(browser, 30).until(lambda d: key.is_displayed())
        assert "API key" in browser.find_element("id", "error").text
        key.send_keys("wrong\t")  # change event: the page retries with it
        assert paste_and_tag(browser, "落实低保兜底政策，应保尽保。") == []
        assert "needs a valid API key" in browser.find_element("id", "error").text
        key.clear()
        key.send_keys("s3cret\t")
        assert len(press_tag(browser)) == 1
        assert browser.find_element("id", "model").text.startswith("model ")
        assert all("401" in e["message"] for e in console_errors(browser))  # only the refused requests


def screenshot(browser, tmp_path: Path, name: str) -> None:
    shots = Path(os.environ.get("POLICY_TAGGER_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shots / name))

"""`policy-tagger report`: the four files, their agreement with each other, and the page as a browser shows it
(headless Chromium from the Debian packages that .ci/browser installs, driven by selenium)."""
import csv
import json
import os
from pathlib import Path

import pytest
from headless import console_errors

from policy_tagger.cli.main import main
from policy_tagger.service.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
LABELS = ["industry", "relocation", "education", "health", "social_security", "supervision"]


@pytest.fixture(scope="module")
def report(tiny_model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "out"
    assert main(["report", str(ROOT / "seeds"), "--out", str(out), "--model", str(tiny_model), "--quiet"]) == 0
    return out


def test_report_writes_four_files_that_agree(report):
    assert sorted(p.name for p in report.iterdir()) == ["index.html", "paragraphs.jsonl", "summary.csv",
                                                        "summary.json"]
    rows = [json.loads(line) for line in (report / "paragraphs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {r["doc"] for r in rows} == {str(ROOT / "seeds" / p.name) for p in SEEDS}
    assert all(set(r["evidence"]) == set(r["labels"]) and "scores" in r for r in rows)
    with open(report / "summary.csv", encoding="utf-8", newline="") as f:
        summary = list(csv.DictReader(f))
    assert [Path(s["doc"]).name for s in summary] == [p.name for p in SEEDS]
    for entry in summary:
        mine = [r for r in rows if r["doc"] == entry["doc"]]
        assert int(entry["paragraphs"]) == len(mine)
        assert [int(entry[f"count_{label}"]) for label in LABELS] == [sum(label in r["labels"] for r in mine)
                                                                      for label in LABELS]
    assert summary[3]["region"] == "甘肃省张掖市山丹县" and summary[3]["year"] == "2017"
    data = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    assert data["paragraphs"] == len(rows) and set(data["groups"]) == {"region", "year"}
    assert data["model"] == rows[0]["model"]


def test_by_a_field_no_row_has_is_a_usage_error(capsys, tiny_model, tmp_path):
    code = main(["report", str(SEEDS[0]), "--out", str(tmp_path / "r"), "--by", "county", "--model",
                 str(tiny_model), "--quiet"])
    assert code == UsageError.exit_code and "--by county" in capsys.readouterr().err


def test_page_renders_offline_in_a_real_browser(report, browser):
    from selenium.webdriver.common.by import By

    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    browser.get((report / "index.html").as_uri())
    headings = [h.text for h in browser.find_elements(By.TAG_NAME, "h2")]
    assert headings[:4] == ["Label shares overall", "Documents", "Label share by group",
                            "Most confident paragraphs per label"]
    images = browser.find_elements(By.CSS_SELECTOR, "img.chart")
    assert len(images) == 3  # overall, by region, by year
    assert all(browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 100
               for img in images)
    documents = browser.find_elements(By.CSS_SELECTOR, "#documents tr.document")
    assert [row.find_element(By.TAG_NAME, "td").text for row in documents] == [
        str(ROOT / "seeds" / p.name) for p in SEEDS]
    summary = list(csv.DictReader(open(report / "summary.csv", encoding="utf-8", newline="")))
    cells = [[td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in documents]
    assert [c[3] for c in cells] == [s["paragraphs"] for s in summary]
    assert browser.find_elements(By.CSS_SELECTOR, "tr.evidence mark")  # evidence is highlighted
    assert console_errors(browser) == []
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1280, min(height + 100, 8000))
    shots = Path(os.environ.get("POLICY_TAGGER_SCREENSHOTS", report))
    shots.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shots / "report-screenshot.png"))


def system_has_a_chinese_font() -> bool:
    import shutil
    import subprocess

    if shutil.which("fc-list") is None:
        return False
    return bool(subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout.strip())


def glyph_pixels(char: str) -> bytes:
    from policy_tagger.service.report import _pyplot

    plt = _pyplot()
    figure = plt.figure(figsize=(0.6, 0.6), dpi=50)
    figure.text(0.1, 0.2, char, fontsize=20)
    figure.canvas.draw()
    pixels = bytes(figure.canvas.buffer_rgba())
    plt.close(figure)
    return pixels


def test_charts_draw_chinese_with_a_font_installed_after_matplotlibs_font_cache(monkeypatch):
    if not system_has_a_chinese_font():
        if os.environ.get("POLICY_TAGGER_REQUIRE_BROWSER"):
            pytest.fail("no Chinese font: .ci/browser installs fonts-noto-cjk")
        pytest.skip("no Chinese font on this system (fc-list :lang=zh)")
    from matplotlib import font_manager

    # As if the cache was built before the font was installed (seen on CI: every Chinese glyph drawn as a box).
    stale = [font for font in font_manager.fontManager.ttflist if "CJK" not in font.name]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)
    font_manager.fontManager._findfont_cached.cache_clear()
    try:
        assert glyph_pixels("产") != glyph_pixels("业")  # two boxes would be the same pixels
    finally:
        font_manager.fontManager._findfont_cached.cache_clear()

"""Word, PDF, HTML and Excel inputs, and folders of them: real files written by the libraries that make them."""
import json
from pathlib import Path

import pytest

from policy_tagger.cli.main import main
from policy_tagger.service.errors import InputError

BODY_1 = "全县建成扶贫车间32个，带动1200余名贫困劳动力就近就业，人均月增收2000元以上。"
BODY_2 = "落实低保兜底政策，对无劳动能力的贫困户应保尽保，全年发放低保金3200万元。"


def label(capsys, *inputs, model) -> tuple[int, list[dict], str]:
    code = main(["label", *map(str, inputs), "--model", str(model), "--quiet"])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.strip()], err


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("某县2018年脱贫攻坚工作总结", level=0)
    document.add_heading("产业发展", level=1)
    document.add_paragraph(BODY_1)
    document.add_heading("兜底保障", level=1)
    document.add_paragraph(BODY_2)
    document.save(path)
    return path


def make_pdf(path: Path, lines: list[str]) -> Path:
    """A text-layer PDF in a standard Chinese CID font (needs no font file), one line per drawString:
    long paragraphs are hard-wrapped as PDF exports do."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    page = canvas.Canvas(str(path))
    page.setFont("STSong-Light", 11)
    for i, line in enumerate(lines):
        page.drawString(40, 800 - 16 * i, line)
    page.save()
    return path


def wrapped(text: str, width: int = 30) -> list[str]:
    return [text[i:i + width] for i in range(0, len(text), width)]


def test_docx_paragraphs_with_heading_styles_as_sections(capsys, tiny_model, tmp_path):
    code, rows, err = label(capsys, make_docx(tmp_path / "report.docx"), model=tiny_model)
    assert code == 0, err
    assert [(r["text"], r["section"], r["paragraph"]) for r in rows] == [(BODY_1, "产业发展", 0), (BODY_2, "兜底保障", 1)]
    assert all(r["doc"].endswith("report.docx") and r["labels"] is not None for r in rows)


def test_pdf_text_layer_with_hard_wrapped_lines_joined(capsys, tiny_model, tmp_path):
    pdf = make_pdf(tmp_path / "report.pdf", ["一、产业发展", *wrapped(BODY_1), "二、兜底保障", *wrapped(BODY_2)])
    code, rows, err = label(capsys, pdf, model=tiny_model)
    assert code == 0, err
    assert [(r["text"], r["section"]) for r in rows] == [(BODY_1, "一、产业发展"), (BODY_2, "二、兜底保障")]


def test_html_visible_text_only(capsys, tiny_model, tmp_path):
    page = tmp_path / "news.html"
    page.write_text(f"""<!doctype html><html><head><meta charset="utf-8"><title>县政府网</title>
<style>p {{ color: red }}</style><script>var tracker = "落实低保兜底政策的脚本";</script></head>
<body><header>首页 | 政务公开 | 联系我们</header><nav><a href="/">网站导航</a></nav>
<article><h2>产业发展</h2><p>全县建成扶贫车间<b>32</b>个，带动1200余名贫困劳动力就近就业，人均月增收2000元以上。</p>
<h2>兜底保障</h2><div>{BODY_2}</div></article>
<footer>版权所有 某县人民政府</footer><script>document.write("x")</script></body></html>""", encoding="utf-8")
    code, rows, err = label(capsys, page, model=tiny_model)
    assert code == 0, err
    assert [(r["text"], r["section"]) for r in rows] == [(BODY_1, "产业发展"), (BODY_2, "兜底保障")]


def test_xlsx_text_column_like_csv(capsys, tiny_model, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "county", "text"])
    sheet.append(["a1", "思南县", BODY_1])
    sheet.append([None, None, None])
    sheet.append([None, "房县", BODY_2])
    book.save(tmp_path / "rows.xlsx")
    code, rows, err = label(capsys, tmp_path / "rows.xlsx", model=tiny_model)
    assert code == 0, err
    assert [(r["id"], r["county"], r["text"]) for r in rows] == [
        ("a1", "思南县", BODY_1), (f"{tmp_path / 'rows.xlsx'}:4", "房县", BODY_2)]


def test_folder_means_every_supported_file_under_it_sorted(capsys, tiny_model, tmp_path):
    folder = tmp_path / "docs"
    (folder / "b").mkdir(parents=True)
    make_docx(folder / "b" / "2.docx")
    (folder / "a.txt").write_text("一、产业发展\n\n" + BODY_1 + "\n", encoding="utf-8")
    (folder / "notes.doc").write_bytes(b"not supported, left out")
    (folder / ".hidden.txt").write_text(BODY_2, encoding="utf-8")
    code, rows, err = label(capsys, folder, model=tiny_model)
    assert code == 0, err
    assert [(Path(r["doc"]).relative_to(folder).as_posix(), r["paragraph"]) for r in rows] == [
        ("a.txt", 0), ("b/2.docx", 0), ("b/2.docx", 1)]


def test_scanned_pdf_without_text_names_the_file(capsys, tiny_model, tmp_path):
    from reportlab.pdfgen import canvas

    page = canvas.Canvas(str(tmp_path / "scan.pdf"))
    page.rect(40, 400, 300, 300, fill=1)  # a picture, no text
    page.save()
    code, rows, err = label(capsys, tmp_path / "scan.pdf", model=tiny_model)
    assert code == InputError.exit_code and rows == []
    assert "scan.pdf" in err and "no text layer" in err


@pytest.mark.parametrize("name, content, message", [
    ("bad.docx", b"PK\x03\x04 not really a zip", "not a readable Word .docx file"),
    ("bad.pdf", b"%PDF-1.4\n garbage", "not a readable PDF file"),
    ("bad.xlsx", b"plain text, not a workbook", "not a readable Excel .xlsx file"),
    ("empty.html", b"<html><body><script>var a = 1;</script><nav>nav</nav></body></html>", "no paragraphs of text"),
])
def test_bad_files_of_each_kind_exit_3_naming_the_file(capsys, tiny_model, tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    code, rows, err = label(capsys, tmp_path / name, model=tiny_model)
    assert code == InputError.exit_code and rows == [], err
    assert name in err and message in err


def test_xlsx_without_a_text_column(capsys, tiny_model, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["id", "content"])
    book.active.append(["1", BODY_1])
    book.save(tmp_path / "no_text.xlsx")
    code, _, err = label(capsys, tmp_path / "no_text.xlsx", model=tiny_model)
    assert code == InputError.exit_code and "no_text.xlsx" in err and "'text' column" in err


@pytest.mark.parametrize("head", ['<meta http-equiv="Content-Type" content="text/html; charset=gb2312">', ""])
def test_html_in_gbk_declared_or_not(capsys, tiny_model, tmp_path, head):
    page = tmp_path / "gbk.htm"
    page.write_bytes(f"<html><head>{head}</head><body><p>{BODY_2}</p></body></html>".encode("gb18030"))
    code, rows, err = label(capsys, page, model=tiny_model)
    assert code == 0, err
    assert [r["text"] for r in rows] == [BODY_2]

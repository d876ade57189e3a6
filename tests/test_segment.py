from pathlib import Path

from policy_tagger.service.segment import split_blocks, split_paragraphs

SEEDS = sorted(Path(__file__).resolve().parents[1].joinpath("seeds").glob("*.txt"))

WRAPPED = """打赢脱贫攻坚战须在精准上狠下功夫

（中共某某县委）

农村贫困人口如期脱贫、贫困县全部摘帽、解决区域性整体贫困，是全面建成小康社会的底线任务，也是我们党做出的庄

严承诺。近年来，县委、县政府认真贯彻落实省、市脱贫攻坚会议部署。

一、精准选将，智慧布阵，推动联户帮扶全覆盖

一是强化脱贫“主心骨”。制定脱贫攻坚定点帮扶工作方案和脱贫攻坚工作成效考核办法等文件。
"""


def test_hard_wrapped_lines_are_joined_across_blank_lines():
    paragraphs = split_paragraphs(WRAPPED)
    assert paragraphs[0].text.startswith("农村贫困人口") and paragraphs[0].text.endswith("会议部署。")
    assert "庄严承诺" in paragraphs[0].text


def test_headings_become_sections_not_rows():
    paragraphs = split_paragraphs(WRAPPED)
    assert [p.text[:4] for p in paragraphs] == ["农村贫困", "一是强化"]
    assert paragraphs[0].section is None
    assert paragraphs[1].section == "一、精准选将，智慧布阵，推动联户帮扶全覆盖"
    assert [p.index for p in paragraphs] == [0, 1]


def test_title_and_byline_are_not_paragraphs():
    kinds = {b.text: b.kind for b in split_blocks(WRAPPED)}
    assert kinds["打赢脱贫攻坚战须在精准上狠下功夫"] == "title"
    assert kinds["（中共某某县委）"] == "byline"


def test_markdown_headings_photo_captions_and_numbered_headings():
    text = ("# 全市脱贫攻坚工作综述\n\n记者 张三 李四\n\n8月18日，省领导一行到我市调研精准扶贫工作。\n\n记者 王五 摄\n\n"
            "## 凝聚力量:构筑大格局\n\n强化脱贫攻坚责任制。实行“倒计时”，制定“作战图”。\n\n"
            "（一）强化督查问责\n\n实行“一月一督查一通报”，对排名靠后的乡镇约谈问责。\n")
    paragraphs = split_paragraphs(text)
    assert [p.text[:6] for p in paragraphs] == ["强化脱贫攻坚", "实行“一月一"]
    assert [p.section for p in paragraphs] == ["凝聚力量:构筑大格局", "（一）强化督查问责"]
    kinds = [b.kind for b in split_blocks(text)]
    assert kinds[:4] == ["title", "byline", "caption", "byline"]


def test_numbered_lead_stays_in_its_paragraph():
    text = "工作情况如下。\n\n三是强化督查考核。严格执行“一月一督查一通报、半年一考核一排名”，实行“一票否决”。\n"
    assert split_paragraphs(text)[1].text.startswith("三是强化督查考核。")


def test_crlf_full_width_spaces_and_bom_are_handled():
    text = "\ufeff　　全县建成扶贫车间32个，带动就业1200人。\r\n\r\n　　落实低保兜底政策，应保尽保。\r\n"
    assert [p.text for p in split_paragraphs(text)] == ["全县建成扶贫车间32个，带动就业1200人。", "落实低保兜底政策，应保尽保。"]


def test_empty_and_heading_only_documents_have_no_paragraphs():
    assert split_paragraphs("") == []
    assert split_paragraphs("\n\n  \n") == []
    assert split_paragraphs("一、产业扶贫\n二、易地搬迁\n") == []


def test_seed_documents_split_into_body_paragraphs_only():
    counts = {path.stem[:3]: len(split_paragraphs(path.read_text(encoding="utf-8"))) for path in SEEDS}
    assert counts == {"000": 9, "001": 26, "002": 24, "003": 7, "004": 6}
    for path in SEEDS:
        for p in split_paragraphs(path.read_text(encoding="utf-8")):
            assert len(p.text) >= 25 and not p.text.endswith(" 摄")

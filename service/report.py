"""The corpus report: tagged rows in, four files out (index.html, paragraphs.jsonl, summary.csv, summary.json).

index.html is one self-contained page: charts are matplotlib PNGs inlined as base64, no script, no network."""
from __future__ import annotations

import base64
import csv
import html
import io
import json
import warnings
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policy_tagger.service.writers import write_jsonl

DEFAULT_BY = ("region", "year")
TOP_PARAGRAPHS = 5
CJK_FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "Source Han Sans SC", "SimHei",
             "DejaVu Sans"]


@dataclass
class ReportInput:
    rows: list[dict]
    label_ids: list[str]
    label_names: dict[str, str]  # id -> 中文
    model: str
    settings: dict[str, Any]
    by: list[str] = field(default_factory=list)


def default_by(rows: list[dict]) -> list[str]:
    """region and year, those that at least one row has."""
    return [name for name in DEFAULT_BY if any(row.get(name) is not None for row in rows)]


def document_of(row: dict) -> str:
    return str(row.get("doc") or row.get("source") or "(rows)")


def summarise(rows: list[dict], label_ids: list[str]) -> list[dict]:
    """One entry per document, in first-seen order: paragraphs, count and share per label, region, year."""
    docs: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        docs[document_of(row)].append(row)
    summary = []
    for doc, members in docs.items():
        counts = Counter(label for row in members for label in row["labels"])
        entry: dict[str, Any] = {"doc": doc, "region": members[0].get("region"), "year": members[0].get("year"),
                                 "paragraphs": len(members)}
        entry.update({f"count_{label}": counts[label] for label in label_ids})
        entry.update({f"share_{label}": round(counts[label] / len(members), 4) for label in label_ids})
        summary.append(entry)
    return summary


def overall_shares(rows: list[dict], label_ids: list[str]) -> dict[str, float]:
    """Share of all paragraphs that carry each label."""
    counts = Counter(label for row in rows for label in row["labels"])
    return {label: round(counts[label] / len(rows), 4) if rows else 0.0 for label in label_ids}


def group_shares(rows: list[dict], label_ids: list[str], by: str) -> dict[str, dict[str, float]]:
    """Per value of the field `by` (rows without it: "unknown"), the share of its paragraphs per label."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        value = row.get(by)
        groups["unknown" if value is None or value == "" else str(value)].append(row)
    return {group: overall_shares(members, label_ids) for group, members in sorted(groups.items())}


def _figure_png(figure: Any) -> str:
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # one per missing glyph; without a CJK font the command says so once
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cjk_font()  # registers a CJK font installed after matplotlib's font cache was built
    plt.rcParams["font.sans-serif"] = CJK_FONTS
    plt.rcParams["axes.unicode_minus"] = False
    return plt


def cjk_font() -> str | None:
    """The first of CJK_FONTS that matplotlib can draw with, or None. matplotlib's font cache lists the fonts
    that were there when it was first built, so a CJK font installed later (seen: fonts-noto-cjk installed after
    the cache, every Chinese glyph drawn as a box) is added from the system's font folders here."""
    from matplotlib import font_manager

    def known() -> list[str]:
        names = {font.name for font in font_manager.fontManager.ttflist}
        return [name for name in CJK_FONTS[:-1] if name in names]

    if not known():
        listed = {font.fname for font in font_manager.fontManager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in listed:
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # a file FreeType cannot read: skip it
                    continue
    return next(iter(known()), None)


def shares_chart(shares: dict[str, float], names: dict[str, str]) -> str:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 3.2))
    labels = list(shares)
    axes.barh([f"{names.get(label, label)} ({label})" for label in labels], [shares[label] for label in labels],
              color="#3b6ea8")
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.set_xlabel("share of paragraphs")
    for i, label in enumerate(labels):
        axes.text(shares[label] + 0.01, i, f"{shares[label]:.0%}", va="center", fontsize=9)
    png = _figure_png(figure)
    plt.close(figure)
    return png


def heatmap_chart(groups: dict[str, dict[str, float]], label_ids: list[str], by: str) -> str:
    plt = _pyplot()
    names = list(groups)
    figure, axes = plt.subplots(figsize=(1.2 * len(label_ids) + 2.5, 0.45 * len(names) + 1.6))
    values = [[groups[name][label] for label in label_ids] for name in names]
    image = axes.imshow(values, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    axes.set_xticks(range(len(label_ids)), label_ids, rotation=30, ha="right")
    axes.set_yticks(range(len(names)), names)
    axes.set_ylabel(by)
    for y, row in enumerate(values):
        for x, value in enumerate(row):
            axes.text(x, y, f"{value:.0%}", ha="center", va="center", fontsize=8,
                      color="white" if value > 0.6 else "black")
    figure.colorbar(image, ax=axes, label="share of paragraphs")
    png = _figure_png(figure)
    plt.close(figure)
    return png


def highlighted(text: str, spans: Sequence[dict]) -> str:
    """The text, escaped, with each evidence span in <mark> (overlaps cannot occur: clauses are disjoint)."""
    out, at = [], 0
    for span in sorted(spans, key=lambda s: s["start"]):
        out.append(html.escape(text[at:span["start"]]))
        out.append(f'<mark title="weight {span["weight"]:.3f}">{html.escape(text[span["start"]:span["end"]])}</mark>')
        at = span["end"]
    out.append(html.escape(text[at:]))
    return "".join(out)


def top_paragraphs(rows: list[dict], label: str, n: int = TOP_PARAGRAPHS) -> list[dict]:
    chosen = [row for row in rows if label in row["labels"]]
    return sorted(chosen, key=lambda row: -row["scores"][label])[:n]


PAGE_STYLE = """body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:2em auto;
max-width:72em;padding:0 1em;color:#222}table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;
padding:.3em .6em;vertical-align:top}th{background:#f0f3f7}td.num{text-align:right}mark{background:#ffe28a}
img{max-width:100%}.meta{color:#555;font-size:.9em}"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def render_html(data: ReportInput, summary: list[dict], charts: dict[str, str]) -> str:
    names = data.label_names
    head = "".join(f"<th>{_e(names.get(label, label))}<br><code>{_e(label)}</code></th>" for label in data.label_ids)
    doc_rows = "".join(
        f'<tr class="document"><td>{_e(d["doc"])}</td><td>{_e(d["region"])}</td><td>{_e(d["year"])}</td>'
        f'<td class="num">{d["paragraphs"]}</td>'
        + "".join(f'<td class="num">{d[f"count_{label}"]}</td>' for label in data.label_ids) + "</tr>"
        for d in summary)
    group_sections = "".join(
        f'<h3>By {_e(by)}</h3><img class="chart" alt="label share by {_e(by)}" '
        f'src="data:image/png;base64,{charts[f"by_{by}"]}">' for by in data.by)
    evidence_sections = []
    for label in data.label_ids:
        best = top_paragraphs(data.rows, label)
        items = "".join(
            f'<tr class="evidence"><td class="num">{row["scores"][label]:.3f}</td><td>{_e(document_of(row))}'
            f'{" · " + _e(row.get("section")) if row.get("section") else ""}</td>'
            f'<td>{highlighted(row["text"], (row.get("evidence") or {}).get(label, []))}</td></tr>' for row in best)
        body = (f"<table><tr><th>score</th><th>document · section</th><th>paragraph (evidence marked)</th></tr>"
                f"{items}</table>" if best else "<p>No paragraph has this label.</p>")
        evidence_sections.append(f'<h3 id="label-{_e(label)}">{_e(names.get(label, label))} ({_e(label)})</h3>{body}')
    settings = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in data.settings.items())
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>policy-tagger report</title><style>{PAGE_STYLE}</style></head>
<body>
<h1>policy-tagger report</h1>
<p class="meta">{len(summary)} documents, {len(data.rows)} paragraphs · model <code>{_e(data.model)}</code></p>
<h2>Label shares overall</h2>
<img class="chart" alt="share of paragraphs per label" src="data:image/png;base64,{charts["overall"]}">
<h2>Documents</h2>
<table id="documents"><tr><th>document</th><th>region</th><th>year</th><th>paragraphs</th>{head}</tr>{doc_rows}</table>
<h2>Label share by group</h2>{group_sections or "<p>No grouping field has values.</p>"}
<h2>Most confident paragraphs per label</h2>{"".join(evidence_sections)}
<h2>Model and settings</h2><table id="settings"><tr><th>model</th><td>{_e(data.model)}</td></tr>{settings}</table>
</body></html>
"""


def write_summary_csv(summary: list[dict], path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(summary[0]) if summary else ["doc"])
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in entry.items()} for entry in summary)


def write_report(data: ReportInput, out_dir: Path) -> dict[str, Path]:
    """Writes the four files; returns their paths by name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarise(data.rows, data.label_ids)
    overall = overall_shares(data.rows, data.label_ids)
    groups = {by: group_shares(data.rows, data.label_ids, by) for by in data.by}
    charts = {"overall": shares_chart(overall, data.label_names),
              **{f"by_{by}": heatmap_chart(groups[by], data.label_ids, by) for by in data.by}}
    paths = {name: out_dir / name for name in ("index.html", "paragraphs.jsonl", "summary.csv", "summary.json")}
    with open(paths["paragraphs.jsonl"], "w", encoding="utf-8") as out:
        write_jsonl(data.rows, out)
    write_summary_csv(summary, paths["summary.csv"])
    paths["summary.json"].write_text(json.dumps(
        {"model": data.model, "settings": data.settings, "paragraphs": len(data.rows), "overall_share": overall,
         "documents": summary, "groups": groups}, ensure_ascii=False, indent=1), encoding="utf-8")
    paths["index.html"].write_text(render_html(data, summary, charts), encoding="utf-8")
    return paths

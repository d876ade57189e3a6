"""Document metadata: the region a document reports on and its year.

region: province, prefecture and county named in the title (else a date or byline line, else the first body
paragraph), resolved by the cpca gazetteer, which also fills in the province of a county named alone.
year: from a date line (2017-10-23, 2017年10月23日) or the title, else the latest plausible year in the text."""
from __future__ import annotations

import datetime
import re
import warnings
from functools import lru_cache
from typing import Any

from policy_tagger.service.segment import split_blocks

FIRST_YEAR = 1978  # the start of reform-era poverty programmes; earlier years are history, not report years
DATE = re.compile(r"((?:19|20)\d{2})\s*(?:年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?|[-/.]\s*\d{1,2}\s*[-/.]\s*\d{1,2})")
YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年")
DATE_LINE_MAX_CHARS = 60
# cpca's names for groups of counties that are not places one would name: the real district follows them
PLACEHOLDERS = {"县", "市辖区", "省直辖县级行政区划", "自治区直辖县级行政区划"}


def plausible(year: int) -> bool:
    return FIRST_YEAR <= year <= datetime.date.today().year


def _years(pattern: re.Pattern, text: str) -> list[int]:
    return [y for y in (int(m.group(1)) for m in pattern.finditer(text)) if plausible(y)]


@lru_cache(maxsize=1)
def _gazetteer() -> Any:
    """cpca, or None where the documents extra is not installed (region is then null)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pkg_resources deprecation, on import
            import cpca
    except ModuleNotFoundError:
        return None
    return cpca


def region_of(texts: list[str]) -> str | None:
    """The first of texts that names a place: "贵州省铜仁市思南县", "甘肃省张掖市", …"""
    cpca = _gazetteer()
    if cpca is None or not texts:
        return None
    for record in cpca.transform(texts).to_dict("records"):
        parts = [record.get(key) for key in ("省", "市", "区")]
        if any(p in PLACEHOLDERS for p in parts):  # "全县…" matches Chongqing's county group "县"
            parts = [None if p in PLACEHOLDERS else p for p in parts]
            if not isinstance(parts[2], str):
                continue
        named = [p for p in parts if isinstance(p, str) and p]
        if named:
            return "".join(dict.fromkeys(named))  # direct-controlled cities: 北京市北京市 → 北京市
    return None


def document_metadata(text: str) -> dict[str, Any]:
    """``{"region": str | None, "year": int | None}`` of a whole document."""
    blocks = split_blocks(text)
    titles = [b.text for b in blocks if b.kind == "title"][:4]
    date_lines = [b.text for b in blocks if b.kind == "byline" or
                  (len(b.text) <= DATE_LINE_MAX_CHARS and DATE.search(b.text) and b.kind != "body")]
    first_body = [b.text for b in blocks if b.kind == "body"][:1]
    year = next(iter(_years(DATE, " ".join(date_lines)) + _years(YEAR, " ".join(titles))), None)
    if year is None:
        year = max(_years(YEAR, text) + _years(DATE, text), default=None)
    return {"region": region_of([*titles, *date_lines, *first_body]), "year": year}

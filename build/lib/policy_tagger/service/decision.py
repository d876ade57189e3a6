"""The one decision rule: which labels a paragraph gets from its scores. Inference, training, export and
evaluation all call ``decide``."""
from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import islice

import numpy as np

# A paragraph needs this many Han characters to carry a measure: the shortest phrases naming one
# (落实低保, 危房改造) have four, and the shortest labelled paragraph in the corpus has 12. Below it
# ("a", "1", "。", "hello world", a zero-width space) the model's scores are noise: session 2's model gave
# such text supervision scores of 0.32-0.38.
MIN_HAN_CHARS = 4
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


def carries_content(text: str) -> bool:
    """True if the text has enough Chinese to report a measure at all."""
    return sum(1 for _ in islice(_HAN.finditer(text), MIN_HAN_CHARS)) == MIN_HAN_CHARS


def decide(probs: np.ndarray, thresholds: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    """Boolean (paragraphs, labels): a label where its score reaches its threshold, none for text
    without Chinese content."""
    chosen = np.asarray(probs) >= np.asarray(thresholds)
    chosen[[not carries_content(t) for t in texts]] = False
    return chosen

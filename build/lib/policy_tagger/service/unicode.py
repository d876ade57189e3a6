"""What text we accept: any Unicode that can be written out as UTF-8. An unpaired surrogate (JSON
"\\ud800") cannot be, so it would fail the tokenizer and every response or file row it reaches; it is
refused at the edge, naming the field, instead of being silently replaced."""
from __future__ import annotations

import re

_SURROGATE = re.compile(r"[\ud800-\udfff]")


def unpaired_surrogate(value: object, where: str = "") -> str | None:
    """A message naming the first string inside ``value`` (nested lists and dicts too) that holds an
    unpaired surrogate, or None when every string can be encoded."""
    if isinstance(value, str):
        found = _SURROGATE.search(value)
        return None if found is None else (f"{where or 'text'}: unpaired surrogate U+{ord(found.group()):04X} "
                                           f"at character {found.start()}; send valid Unicode")
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((f"[{i}]", v) for i, v in enumerate(value))  # type: ignore[assignment]
    else:
        return None
    for key, item in items:
        problem = unpaired_surrogate(key, where) if isinstance(key, str) and _SURROGATE.search(key) else None
        name = f"{where}{key}" if str(key).startswith("[") else f"{where}.{key}" if where else str(key)
        problem = problem or unpaired_surrogate(item, name)
        if problem:
            return problem
    return None

"""What a reader sees of the dashboard's escaped text (dashboard.plain): Markdown backslash-escapes undone and the
invisible word joiners (after ':' and '@', inside 'www', against autolinks) dropped. One place for every test."""
from __future__ import annotations

import re

from dashboard.plain import WORD_JOINER

_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def plain(text: str) -> str:
    """The characters the reader sees of one escaped text."""
    return _ESCAPED.sub(r"\1", text).replace(WORD_JOINER, "")


def texts(elements) -> list[str]:
    """plain() of each AppTest element's value (st.error, st.caption...)."""
    return [plain(element.value) for element in elements]


def shown(text: str) -> re.Pattern:
    """`text` as the browser shows it: a pattern that allows the word joiners dashboard.plain puts in."""
    pattern = re.escape(text).replace(":", f":{WORD_JOINER}?").replace("@", f"@{WORD_JOINER}?")
    return re.compile(re.sub("(?i)w(?=ww)", lambda m: m.group(0) + f"{WORD_JOINER}?", pattern))

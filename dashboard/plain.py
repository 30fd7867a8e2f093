"""Text from files, archives and servers shown as plain text inside Streamlit's Markdown elements.

st.error/st.warning/st.caption/st.markdown render Markdown (links, images that the browser fetches, Streamlit's
`:color[...]` and `:material/...:` directives, LaTeX). A file named `x![b](http://host/beacon.png).jpg` must
show as those characters, never as an image. CommonMark lets any ASCII punctuation be backslash-escaped, so
escaping all of it neutralises every construct while the reader still sees the original characters. Escapes do
not stop GitHub-flavoured autolinks (Streamlit's Markdown turns a bare `http://…`, `www.…` or `a@b.com` into a
link even when its punctuation is escaped), so an invisible word joiner (U+2060) is put after every `:` and `@`
and inside every `www`: the text reads the same, and no link is made. No module imports streamlit here.
"""
from __future__ import annotations

import re
import string
from typing import Iterable

# Longest server or file text shown in one message: enough for a TF Serving error, not a whole document.
MAX_SHOWN_CHARS = 500
_ESCAPES = {ord(char): "\\" + char for char in string.punctuation}
WORD_JOINER = "\u2060"
_ESCAPES[ord(":")] = "\\:" + WORD_JOINER
_ESCAPES[ord("@")] = "\\@" + WORD_JOINER
_WWW = re.compile(r"(w)(ww)", re.IGNORECASE)


def bounded(text: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """`text` as a string of at most `limit` characters (an ellipsis marks a cut)."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape_markdown(text: object, limit: int | None = MAX_SHOWN_CHARS) -> str:
    """`text` (bounded to `limit` characters unless None) with every Markdown/HTML special backslash-escaped.

    Line breaks become spaces: a new line could otherwise start a block (a heading, a list, a table)."""
    shown = str(text) if limit is None else bounded(text, limit)
    return _WWW.sub(rf"\1{WORD_JOINER}\2", " ".join(shown.splitlines()).translate(_ESCAPES))


def bullet_list(items: Iterable[object]) -> str:
    """A Markdown bullet list whose items are plain text."""
    return "\n".join(f"- {escape_markdown(item)}" for item in items)

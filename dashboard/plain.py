"""Text from files, archives and servers shown as plain text inside Streamlit's Markdown elements.

st.error/st.warning/st.caption/st.markdown render Markdown (links, images that the browser fetches, Streamlit's
`:color[...]` and `:material/...:` directives, LaTeX). A file named `x![b](http://host/beacon.png).jpg` must
show as those characters, never as an image. CommonMark lets any ASCII punctuation be backslash-escaped, so
escaping all of it neutralises every construct while the reader still sees the original characters. Escapes do
not stop GitHub-flavoured autolinks (Streamlit's Markdown turns a bare `http://…`, `www.…` or `a@b.com` into a
link even when its punctuation is escaped), so an invisible word joiner (U+2060) is put after every `:` and `@`
and inside every `www`: the text reads the same, and no link is made.

Characters that hide themselves or change how the text around them is drawn (C0 and C1 controls, the bidi
embeddings, overrides and isolates U+202A..U+202E and U+2066..U+2069, the marks U+200E/U+200F, zero-width spaces and
joiners, the byte-order mark, line and paragraph separators, lone surrogates) are shown as escapes by `visible`:
"report\\u202efdp.jpg" reads as those characters, never as "reportgpj.pdf". escape_markdown applies it, and every
plain-text path (st.text, table cells, widget options) goes through it too. No module imports streamlit here.
"""
from __future__ import annotations

import re
import string
import unicodedata
from typing import Iterable

# Longest server or file text shown in one message: enough for a TF Serving error, not a whole document.
MAX_SHOWN_CHARS = 500
_ESCAPES = {ord(char): "\\" + char for char in string.punctuation}
WORD_JOINER = "\u2060"
_ESCAPES[ord(":")] = "\\:" + WORD_JOINER
_ESCAPES[ord("@")] = "\\@" + WORD_JOINER
_WWW = re.compile(r"(w)(ww)", re.IGNORECASE)
# Unicode categories drawn as nothing, or that reorder or join what is around them: controls (Cc), format
# characters (Cf: bidi controls, zero-width characters, the BOM, soft hyphen, tags), line/paragraph separators
# (Zl, Zp) and lone surrogates (Cs, which cannot even be sent to the browser as UTF-8).
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_NAMED_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(char: str) -> str:
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: object) -> str:
    """`text` with every hidden or reordering character written as its escape (U+202E as `\\u202e`, NUL as `\\x00`,
    a tab as `\\t`); everything else, backslashes included, unchanged. For one value shown as plain text (a file,
    class or model name, a server's message): its line breaks are escaped too."""
    text = str(text)
    if text.isprintable():   # the common case, in C: nothing to escape
        return text
    return "".join(_escape(char) if unicodedata.category(char) in _HIDDEN_CATEGORIES else char for char in text)


def visible_cells(frame, skip: Iterable[str] = ()):
    """A copy of a pandas DataFrame whose text cells are `visible`, except in the columns named in `skip` (e.g. a
    column a table edits, whose values must stay the stored ones)."""
    texts = [column for column in frame.columns
             if isinstance(column, str) and column not in set(skip) and frame[column].dtype.kind in "OSU"]
    return frame.assign(**{column: _visible_series(frame[column]) for column in texts})


def _visible_series(series):
    """The column with `visible` text, as objects: missing values stay what they were (None stays None)."""
    return type(series)([visible(value) if isinstance(value, str) else value for value in series],
                        index=series.index, dtype=object, name=series.name)


def bounded(text: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """`text` as a string of at most `limit` characters (an ellipsis marks a cut)."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape_markdown(text: object, limit: int | None = MAX_SHOWN_CHARS) -> str:
    """`text` (bounded to `limit` characters unless None) with every Markdown/HTML special backslash-escaped and
    hidden characters made `visible`.

    Line breaks become spaces: a new line could otherwise start a block (a heading, a list, a table)."""
    shown = str(text) if limit is None else bounded(text, limit)
    return _WWW.sub(rf"\1{WORD_JOINER}\2", visible(" ".join(shown.splitlines())).translate(_ESCAPES))


def bullet_list(items: Iterable[object]) -> str:
    """A Markdown bullet list whose items are plain text."""
    return "\n".join(f"- {escape_markdown(item)}" for item in items)

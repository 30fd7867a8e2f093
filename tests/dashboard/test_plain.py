"""dashboard.plain.visible: characters that hide themselves or reorder the text around them are shown as escapes,
in plain-text paths and (through escape_markdown) in Markdown ones; everything else is unchanged (issue 21)."""
from __future__ import annotations

import pytest

from dashboard.plain import WORD_JOINER, escape_markdown, visible, visible_cells
from tests.dashboard.readable import plain

BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f",
        "\u061c"]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
C0_C1 = ["\x00", "\x01", "\x1b", "\x7f", "\x9b"]
LINE_BREAKS = ["\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029"]   # str.splitlines breaks on these


def escape_of(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


@pytest.mark.parametrize("char", BIDI + ZERO_WIDTH + C0_C1 + ["\U000e0041", "\ud800"])
def test_each_hidden_character_is_shown_as_its_escape(char):
    assert visible(f"a{char}b") == f"a{escape_of(char)}b"
    assert plain(escape_markdown(f"a{char}b")) == f"a{escape_of(char)}b"


@pytest.mark.parametrize("char", LINE_BREAKS)
def test_a_line_break_is_escaped_in_plain_text_and_a_space_in_markdown(char):
    assert visible(f"a{char}b") == f"a{escape_of(char)}b"
    assert plain(escape_markdown(f"a{char}b")) == "a b"


def test_a_right_to_left_override_no_longer_turns_a_name_around():
    assert visible("report\u202efdp.jpg") == "report\\u202efdp.jpg"
    assert visible("tab\there\nnew\rline") == "tab\\there\\nnew\\rline"


@pytest.mark.parametrize("text", ["photos/cat/1.jpg", "C:\\data\\Cats\\a.jpg", "naïve café 猫.png", "a b\u00a0c",
                                  "emoji 🐈", "x![b](http://h/p.png) :red[x] $x$", ""])
def test_printable_text_is_unchanged(text):
    assert visible(text) == text


def test_escape_markdown_keeps_its_own_word_joiners_and_escapes_one_in_the_text():
    escaped = escape_markdown(f"http://a{WORD_JOINER}b")
    assert escaped == f"http\\:{WORD_JOINER}\\/\\/a\\\\u2060b"
    assert plain(escaped) == "http://a\\u2060b"


def test_escape_markdown_still_turns_line_breaks_into_spaces():
    assert plain(escape_markdown("one\ntwo\r\nthree\u2028four")) == "one two three four"


def test_visible_cells_escapes_text_cells_and_leaves_numbers_missing_values_and_skipped_columns():
    import pandas as pd
    frame = pd.DataFrame({"source": ["a\u202eb.png", None], "confidence": [0.5, None],
                          "correction": ["c\u200bat", None], "name": pd.array(["x\x00y", "z"], dtype="string")})
    shown = visible_cells(frame, skip=["correction"])
    assert shown["source"].tolist()[0] == "a\\u202eb.png" and pd.isna(shown["source"].tolist()[1])
    assert shown["name"].tolist() == ["x\\x00y", "z"]
    assert shown["correction"].tolist()[0] == "c\u200bat" and shown["confidence"].tolist()[0] == 0.5
    assert frame["source"].tolist()[0] == "a\u202eb.png"   # a copy: the frame itself is unchanged

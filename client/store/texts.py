"""The one bound on a model server's text (an error message, a version state's error), in the store and on screen,
and the int64 range of TF Serving's version numbers.

The bound is the client's (client.errors.bounded and MAX_ERROR_CHARS, re-exported here under the dashboard's
names): one line, at most MAX_SERVER_TEXT_CHARS characters, a cut said once as "… (cut; N characters in all)",
N being the length of the whole text; cutting again changes nothing.
"""
from __future__ import annotations

import numbers

from client.errors import MAX_ERROR_CHARS as MAX_SERVER_TEXT_CHARS
from client.errors import bounded as bounded_text

__all__ = ["MAX_SERVER_TEXT_CHARS", "INT64_MAX", "INT64_MIN", "bounded_text", "is_int64"]

INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1


def is_int64(value: object) -> bool:
    """True for an integer (Python's or NumPy's) TF Serving could use as a version number: signed 64-bit."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and INT64_MIN <= int(value) <= INT64_MAX

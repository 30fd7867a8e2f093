"""JSON value helpers shared by the codecs: parsing with TF Serving's error wording, and number formatting."""
from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from serving.errors import InvalidArgument

# Python's json messages -> the rapidjson wording TF Serving uses ("JSON Parse error: <msg> at offset: N").
_RAPIDJSON_WORDING = {
    "Expecting value": "Invalid value.",
    "Expecting property name enclosed in double quotes": "Missing a name for object member.",
    "Expecting ':' delimiter": "Missing a colon after a name of object member.",
    "Expecting ',' delimiter": "Missing a comma or '}' after an object member.",
    "Extra data": "The document root must not be followed by other values.",
    "Unterminated string starting at": "Missing a closing quotation mark in string.",
    "Invalid control character at": "Invalid encoding in string.",
    "Invalid \\escape": "Invalid escape character in string.",
}


def parse_json_object(body: bytes) -> dict:
    """Parse a request body (NaN/Infinity allowed, like rapidjson's kParseNanAndInfFlag); it must be an object."""
    if not body:
        raise InvalidArgument("JSON Parse error: The document is empty")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(f"JSON Parse error: Invalid encoding in string. at offset: {exc.start}") from None
    del body  # the text is the only copy we need; the caller's bytes go as soon as it drops them
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        wording = _RAPIDJSON_WORDING.get(exc.msg, exc.msg)
        raise InvalidArgument(f"JSON Parse error: {wording} at offset: {exc.pos}") from None
    except RecursionError:
        raise InvalidArgument("JSON Parse error: nesting too deep") from None
    except ValueError as exc:  # an integer literal over Python's int-conversion digit limit
        if "integer string conversion" not in str(exc):
            raise
        # rapidjson reads integers that long as doubles, and they overflow.
        raise InvalidArgument("JSON Parse error: Number too big to be stored in double.") from None
    if _ESCAPED_SURROGATE.search(text) and _has_lone_surrogate(doc):
        # Only a \uD800-\uDFFF escape can put one there (the UTF-8 decoding above refuses raw ones); rapidjson
        # refuses it, and it could not be encoded back into any UTF-8 answer.
        raise InvalidArgument("JSON Parse error: The surrogate pair in string is invalid.")
    if not isinstance(doc, dict):
        raise InvalidArgument(f"JSON Value: {value_to_string(doc)} Is not object")
    return doc


_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
MAX_ECHO_CHARS = 200  # longest request value an error message repeats


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def json_type_name(value: Any) -> str:
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


def value_to_string(value: Any, limit: int = MAX_ECHO_CHARS) -> str:
    """A JSON value as rapidjson's PrettyWriter prints it in error messages, cut after `limit` characters.

    The text is generated lazily and generation stops at the limit, so a small, deeply nested body cannot
    make a megabyte-sized error (indentation grows with depth).
    """
    if isinstance(value, float):
        return format_decimal(value, np.float64)
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 3 * limit:
        return f"<integer of about {int(value.bit_length() * 0.30103)} digits>"  # str() would be slow and long
    parts, size = [], 0
    try:
        for chunk in _PRETTY.iterencode(value):
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                break
    except (RecursionError, ValueError):  # deeper than the encoder goes, or an integer too long to print
        parts.append(" ...")
        size = limit + 1
    text = "".join(parts)
    return text if size <= limit else text[:limit] + "...(truncated)"


_PRETTY = json.JSONEncoder(indent=4, ensure_ascii=False)


def format_decimal(value: float, dtype=np.float32) -> str:
    """TF Serving's WriteDecimal: shortest %g form that round-trips at the tensor's precision, '.0' for integers."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "-Infinity" if value < 0 else "Infinity"
    text = "%g" % value
    if dtype(float(text)) != dtype(value):
        text = "%.*g" % (9 if dtype is np.float32 else 17, value)
    if "." not in text and "e" not in text:
        text += ".0"
    return text

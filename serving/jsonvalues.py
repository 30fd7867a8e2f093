"""JSON value helpers shared by the codecs: parsing with TF Serving's error wording, and number formatting.

:predict bodies are read by simdjson (parse_predict_object): an array of numbers with a dense shape comes back as
a DenseNumbers, copied by simdjson's C++ straight into one numpy buffer, never as a Python number per value.
Everything else, and any body simdjson refuses, takes the standard library's parser and TF Serving's wording.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import simdjson

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


@dataclass(frozen=True, eq=False)
class DenseNumbers:
    """A JSON array of numbers of a dense (rectangular) shape, read without a Python number per value.

    `values` has the array's shape: int64 when every number was an integer literal, float64 otherwise (a
    float tensor may mix the two). `to_python()` gives the same JSON value as nested lists, for the per-value
    rules and the error messages that quote a request.
    """

    values: np.ndarray
    to_python: Callable[[], Any]
    has_integer_literal: Callable[[], bool]  # was any number written without a fraction or exponent?

    def as_array(self, dtype) -> Optional[np.ndarray]:
        """The numbers as a `dtype` tensor when every value is exactly what the per-value rules accept
        (integers up to the float's exact-integer limit, integers in the integer type's range); else None, and
        the caller takes to_python() through those rules (which also word the errors)."""
        values = self.values
        if values.size == 0:
            return None
        if dtype in (np.float32, np.float64):
            # Integer literals beyond 2^24-1 (float) or 2^53-1 (double), and numbers beyond the float's range, are
            # refused by TF Serving: arrays holding such values take the per-value rules, which word the error.
            largest = np.abs(values).max()
            if largest > (2 ** 24 - 1 if dtype == np.float32 else 2 ** 53 - 1):
                if values.dtype == np.int64 or self.has_integer_literal() or largest > np.finfo(dtype).max:
                    return None
            return values.astype(dtype)
        if values.dtype == np.int64 and np.issubdtype(dtype, np.integer) and dtype != np.bool_:
            limits = np.iinfo(dtype)
            if limits.min <= values.min() and values.max() <= limits.max:
                return values.astype(dtype)
        return None


_NUMBER_TEXT = b"0123456789.eE+-"
_INTEGER_LITERAL = re.compile(rb"[\[,]-?[0-9]+[,\]]")  # in minified text: a number with no fraction or exponent


def _skeleton(shape: list[int]) -> bytes:
    """The brackets and commas of a dense array of `shape` written without spaces (its numbers removed)."""
    text = b"[" + b"," * (shape[-1] - 1) + b"]"
    for size in reversed(shape[:-1]):
        text = b"[" + b",".join([text] * size) + b"]"
    return text


def _dense_numbers(array: "simdjson.Array") -> Optional[DenseNumbers]:
    """`array` as DenseNumbers when it is a non-empty, rectangular array of numbers only; else None."""
    shape, first = [], array
    while isinstance(first, simdjson.Array):
        shape.append(len(first))
        if not len(first):
            return None
        first = first[0]
    if isinstance(first, bool) or not isinstance(first, (int, float)):
        return None
    for kind, dtype in (("i", np.int64), ("d", np.float64)):
        try:
            buffer = array.as_buffer(of_type=kind)  # flattens nested arrays; refuses any non-number
        except (TypeError, ValueError, RuntimeError, OverflowError):
            continue
        values = np.frombuffer(buffer, dtype=dtype)
        # as_buffer flattens ragged arrays too: the shape is dense exactly when the brackets and commas are
        # those of `shape` (the minified text with its number characters removed).
        if values.size != math.prod(shape) or array.mini.translate(None, _NUMBER_TEXT) != _skeleton(shape):
            return None
        integers = (lambda: True) if kind == "i" else (lambda: _INTEGER_LITERAL.search(array.mini) is not None)
        return DenseNumbers(values.reshape(shape), array.as_list, integers)
    return None


class _DuplicateKeys(Exception):
    """The body is read by the standard parser instead."""


def _from_simdjson(value: Any) -> Any:
    """A parsed value as json.loads gives it, but an object's dense arrays of numbers are DenseNumbers (the only
    place a tensor's values sit: "inputs", an instance's named inputs, "instances" itself)."""
    if isinstance(value, simdjson.Object):
        keys = list(value)  # (items() would convert every value to Python objects)
        if len(set(keys)) != len(keys):
            raise _DuplicateKeys  # json.loads keeps a repeated key's last value, simdjson's lookup its first
        return {key: _from_simdjson(value[key]) for key in keys}
    if isinstance(value, simdjson.Array):
        dense = _dense_numbers(value)
        if dense is not None:
            return dense
        if len(value) and isinstance(value[0], simdjson.Object):  # a list of instances or objects
            return [_from_simdjson(item) if isinstance(item, simdjson.Object) else _plain(item) for item in value]
        return value.as_list()
    return value


def _plain(value: Any) -> Any:
    return value.as_list() if isinstance(value, simdjson.Array) else value


def _rows(value: Any) -> Any:
    """The top-level "instances" list: a dense array is split into one DenseNumbers per instance."""
    if isinstance(value, DenseNumbers) and value.values.ndim > 1:
        rows, source = value.values, value.to_python
        return [DenseNumbers(rows[index], lambda index=index: source()[index], value.has_integer_literal)
                for index in range(len(rows))]
    if isinstance(value, DenseNumbers):
        return value.to_python()
    return value


def parse_predict_object(body: bytes) -> dict:
    """A :predict body as parse_json_object reads it, except that dense arrays of numbers are DenseNumbers
    ("instances" stays a list: of DenseNumbers when it is itself a dense array)."""
    try:
        doc = simdjson.Parser().parse(body)
        if not isinstance(doc, simdjson.Object):
            raise _DuplicateKeys  # (not an object: parse_json_object words the error)
        parsed = _from_simdjson(doc)
    except (ValueError, RuntimeError, UnicodeDecodeError, _DuplicateKeys):
        # NaN, Infinity, deep nesting, integers past 64 bits, bad text: the standard parser and TF Serving's words.
        return parse_json_object(body)
    if "instances" in parsed:
        parsed["instances"] = _rows(parsed["instances"])
    return parsed


def _python_value(value: Any) -> Any:
    if isinstance(value, DenseNumbers):
        return value.to_python()
    raise TypeError(f"{type(value).__name__} is not a JSON value")


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
    if isinstance(value, (list, DenseNumbers)):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


def value_to_string(value: Any, limit: int = MAX_ECHO_CHARS) -> str:
    """A JSON value as rapidjson's PrettyWriter prints it in error messages, cut after `limit` characters.

    The text is generated lazily and generation stops at the limit, so a small, deeply nested body cannot
    make a megabyte-sized error (indentation grows with depth).
    """
    if isinstance(value, DenseNumbers):
        value = value.to_python()
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


_PRETTY = json.JSONEncoder(indent=4, ensure_ascii=False, default=_python_value)


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

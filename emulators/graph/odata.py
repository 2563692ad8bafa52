"""OData query options and Prefer headers, as Graph reads them.

``$filter`` supports what calendar clients use: ``eq ne gt ge lt le``, ``and or
not``, parentheses, ``startswith``/``endswith``/``contains``, string/number/bool/null
literals and property paths (``start/dateTime``). Date-time strings are compared as
instants. Query option names are accepted with and without ``$`` (Graph v1.0 does).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import GraphError

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'(?:[^']|'')*')
      | (?P<num>-?\d+(?:\.\d+)?)(?![\w/:-])
      | (?P<lp>\()
      | (?P<rp>\))
      | (?P<comma>,)
      | (?P<word>[A-Za-z_@][\w./:@-]*)
    )""",
    re.VERBOSE,
)
_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
_DT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$")

Predicate = Callable[[Mapping[str, Any]], bool]


def invalid_filter(message: str) -> GraphError:
    return GraphError(400, "ErrorInvalidUrlQueryFilter", message)


def option(query: Mapping[str, str], name: str) -> str | None:
    """A query option by name, with or without the ``$`` prefix (case-insensitive)."""
    want = name.lstrip("$").lower()
    for key, value in query.items():
        if key.lstrip("$").lower() == want:
            return value
    return None


# -- $filter ---------------------------------------------------------------------
@dataclass
class _Tok:
    kind: str
    text: str


def _tokenize(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise invalid_filter(f"Invalid filter clause near '{text[pos : pos + 20]}'.")
        kind = m.lastgroup or ""
        out.append(_Tok(kind, m.group(kind)))
        pos = m.end()
    return out


def _coerce(a: Any, b: Any) -> tuple[Any, Any]:
    if isinstance(a, str) and isinstance(b, str) and _DT.match(a) and _DT.match(b):
        return _as_instant(a), _as_instant(b)
    return a, b


def _as_instant(text: str) -> datetime:
    t = text[:-1] + "+00:00" if text.endswith("Z") else text
    if "." in t:  # fromisoformat copes with 7 digits on 3.11, but be explicit
        head, _, tail = t.partition(".")
        frac = re.match(r"\d+", tail)
        digits = frac.group(0) if frac else ""
        t = head + "." + (digits[:6].ljust(6, "0")) + tail[len(digits) :]
    dt = datetime.fromisoformat(t)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _get(obj: Mapping[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in path.split("/"):
        if isinstance(cur, Mapping):
            found = None
            for k, v in cur.items():
                if k.lower() == part.lower():
                    found = v
                    break
            cur = found
        else:
            return None
    return cur


class _Parser:
    def __init__(self, tokens: list[_Tok]) -> None:
        self.toks = tokens
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise invalid_filter("Unexpected end of filter clause.")
        self.i += 1
        return tok

    def expect(self, kind: str) -> None:
        tok = self.take()
        if tok.kind != kind:
            raise invalid_filter(f"Expected {kind} at '{tok.text}'.")

    def parse_or(self) -> Predicate:
        left = self.parse_and()
        while (t := self.peek()) is not None and t.kind == "word" and t.text.lower() == "or":
            self.take()
            right = self.parse_and()
            left = (lambda a, b: lambda o: a(o) or b(o))(left, right)
        return left

    def parse_and(self) -> Predicate:
        left = self.parse_not()
        while (t := self.peek()) is not None and t.kind == "word" and t.text.lower() == "and":
            self.take()
            right = self.parse_not()
            left = (lambda a, b: lambda o: a(o) and b(o))(left, right)
        return left

    def parse_not(self) -> Predicate:
        t = self.peek()
        if t is not None and t.kind == "word" and t.text.lower() == "not":
            self.take()
            inner = self.parse_not()
            return lambda o: not inner(o)
        return self.parse_cmp()

    def parse_cmp(self) -> Predicate:
        t = self.peek()
        if t is not None and t.kind == "lp":
            self.take()
            inner = self.parse_or()
            self.expect("rp")
            return inner
        left = self.parse_value()
        op = self.peek()
        if op is None or op.kind != "word" or op.text.lower() not in _COMPARE:
            return lambda o: bool(left(o))
        self.take()
        right = self.parse_value()
        name = op.text.lower()

        def cmp(o: Mapping[str, Any]) -> bool:
            a, b = _coerce(left(o), right(o))
            if name == "eq":
                return bool(a == b)
            if name == "ne":
                return bool(a != b)
            if a is None or b is None:
                return False
            try:
                if name == "gt":
                    return bool(a > b)
                if name == "ge":
                    return bool(a >= b)
                if name == "lt":
                    return bool(a < b)
                return bool(a <= b)
            except TypeError:
                return False

        return cmp

    def parse_value(self) -> Callable[[Mapping[str, Any]], Any]:
        tok = self.take()
        if tok.kind == "str":
            text = tok.text[1:-1].replace("''", "'")
            return lambda o: text
        if tok.kind == "num":
            num = float(tok.text) if "." in tok.text else int(tok.text)
            return lambda o: num
        if tok.kind != "word":
            raise invalid_filter(f"Unexpected '{tok.text}' in filter clause.")
        low = tok.text.lower()
        if low in ("true", "false"):
            val = low == "true"
            return lambda o: val
        if low == "null":
            return lambda o: None
        nxt = self.peek()
        if nxt is not None and nxt.kind == "lp" and low in ("startswith", "endswith", "contains"):
            self.take()
            a = self.parse_value()
            self.expect("comma")
            b = self.parse_value()
            self.expect("rp")

            def fn(o: Mapping[str, Any]) -> bool:
                x, y = a(o), b(o)
                if not isinstance(x, str) or not isinstance(y, str):
                    return False
                x, y = x.lower(), y.lower()
                if low == "startswith":
                    return x.startswith(y)
                if low == "endswith":
                    return x.endswith(y)
                return y in x

            return fn
        path = tok.text
        return lambda o: _get(o, path)


def parse_filter(text: str) -> Predicate:
    parser = _Parser(_tokenize(text))
    pred = parser.parse_or()
    if parser.peek() is not None:
        raise invalid_filter(f"Invalid filter clause near '{parser.peek().text}'.")  # type: ignore[union-attr]
    return pred


# -- $select / $orderby / $top / $skip / $expand -----------------------------------
def parse_select(text: str | None, known: Mapping[str, str], type_name: str) -> list[str] | None:
    if text is None or not text.strip():
        return None
    out: list[str] = []
    for raw in text.split(","):
        name = raw.strip()
        canonical = known.get(name.lower())
        if canonical is None:
            raise GraphError(
                400,
                "RequestBroker--ParseUri",
                f"Could not find a property named '{name}' on type '{type_name}'.",
            )
        out.append(canonical)
    return out


def parse_orderby(text: str | None) -> list[tuple[str, bool]]:
    if not text:
        return []
    out: list[tuple[str, bool]] = []
    for part in text.split(","):
        bits = part.strip().split()
        if not bits:
            continue
        desc = len(bits) > 1 and bits[1].lower() == "desc"
        out.append((bits[0], desc))
    return out


def sort_items(
    items: list[dict[str, Any]], orderby: list[tuple[str, bool]]
) -> list[dict[str, Any]]:
    for path, desc in reversed(orderby):

        def key(o: Mapping[str, Any], p: str = path) -> tuple[int, Any]:
            v = _get(o, p)
            if isinstance(v, str) and _DT.match(v):
                return (0, _as_instant(v))
            return (1 if v is None else 0, v if v is not None else "")

        items = sorted(items, key=key, reverse=desc)
    return items


def parse_int(text: str | None, name: str, default: int, maximum: int | None = None) -> int:
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError as exc:
        raise GraphError(400, "BadRequest", f"Invalid {name} value '{text}'.") from exc
    if value < 0:
        raise GraphError(400, "BadRequest", f"Invalid {name} value '{text}'.")
    if maximum is not None:
        value = min(value, maximum)
    return value


@dataclass
class Expand:
    extensions: bool = False
    extension_filter: Predicate | None = None


_EXPAND_EXT = re.compile(r"^\s*extensions\s*(?:\(\s*\$?filter\s*=\s*(?P<f>.*)\)\s*)?$", re.I)


def parse_expand(text: str | None) -> Expand:
    if not text:
        return Expand()
    m = _EXPAND_EXT.match(text)
    if m is None:
        raise GraphError(
            400,
            "BadRequest",
            f"Parsing OData Select and Expand failed: Could not find a property named "
            f"'{text.split('(')[0].strip()}' on type 'microsoft.graph.event'.",
        )
    f = m.group("f")
    return Expand(True, parse_filter(f) if f else None)


# -- Prefer ----------------------------------------------------------------------
def parse_prefer(values: list[str]) -> dict[str, str]:
    """``Prefer`` headers → {lower-case name: value without quotes}."""
    out: dict[str, str] = {}
    for header in values:
        for part in _split_prefer(header):
            name, _, value = part.partition("=")
            name = name.strip().lower()
            if name:
                out[name] = value.strip().strip('"')
    return out


def _split_prefer(header: str) -> list[str]:
    parts: list[str] = []
    buf = ""
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append(buf)
            buf = ""
        else:
            buf += ch
    if buf.strip():
        parts.append(buf)
    return parts


def parse_instant(value: str | None, name: str) -> datetime:
    """startDateTime/endDateTime: ISO 8601, with or without offset (naive = UTC)."""
    if not value:
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            f"This request requires a time window specified by the query string parameters "
            f"StartDateTime and EndDateTime. ({name} is missing)",
        )
    text = value.strip().replace(" ", "+")  # a raw '+' decoded as space
    try:
        return _as_instant(text)
    except ValueError as exc:
        raise GraphError(
            400, "ErrorInvalidParameter", f"The value '{value}' of parameter '{name}' is invalid."
        ) from exc

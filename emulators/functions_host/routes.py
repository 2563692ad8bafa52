"""Azure Functions route templates → regular expressions.

Supports ``{name}``, ``{name:constraint}`` (int, long, bool, guid, alpha, double,
datetime, decimal, float), optional ``{name?}`` and catch-all ``{*name}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CONSTRAINTS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "bool": r"(?i:true|false)",
    "guid": r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}",
    "alpha": r"[A-Za-z]+",
    "double": r"-?\d+(?:\.\d+)?",
    "float": r"-?\d+(?:\.\d+)?",
    "decimal": r"-?\d+(?:\.\d+)?",
    "datetime": r"[^/]+",
}
_PARAM = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\?)?\}")


@dataclass(frozen=True)
class Route:
    template: str
    pattern: re.Pattern[str]
    literal_segments: int

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path.strip("/"))
        if found is None:
            return None
        return {k: v for k, v in found.groupdict().items() if v is not None}


def compile_route(template: str) -> Route:
    template = template.strip("/")
    parts: list[str] = []
    literal = 0
    for index, segment in enumerate(template.split("/") if template else []):
        sep = "/" if index else ""
        whole = _PARAM.fullmatch(segment)
        if whole and (whole.group(4) or whole.group(1)):
            catch_all, name, constraint, _ = whole.groups()
            inner = ".*" if catch_all else _CONSTRAINTS.get(constraint or "", r"[^/]+")
            parts.append(f"(?:{re.escape(sep)}(?P<{name}>{inner}))?")
            continue
        literal += 0 if whole else 1
        parts.append(re.escape(sep) + _segment_regex(segment))
    return Route(template, re.compile("".join(parts)), literal)


def _segment_regex(segment: str) -> str:
    out, pos = [], 0
    for m in _PARAM.finditer(segment):
        out.append(re.escape(segment[pos : m.start()]))
        _, name, constraint, _ = m.groups()
        if constraint and constraint not in _CONSTRAINTS:
            raise ValueError(f"unknown route constraint {constraint!r}")
        out.append(f"(?P<{name}>{_CONSTRAINTS.get(constraint or '', r'[^/]+')})")
        pos = m.end()
    out.append(re.escape(segment[pos:]))
    return "".join(out)

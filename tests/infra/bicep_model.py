"""A small static model of the Bicep templates in ``infra/``, built on tree-sitter-bicep.

It understands enough Bicep to check the templates against the code without Azure:
declarations (param / var / resource / module / output) with their decorators, literals,
string interpolation, ``for`` loops, ``if`` conditions, ternaries, unary and binary
operators, references across modules (a module's params and outputs) and the handful of
built-in functions the templates use. Values only Azure knows at deployment time
(``storage.properties.primaryEndpoints.blob``, ``site.identity.principalId``...) evaluate
to :class:`Opaque` placeholders that remember which resource they come from.

Anything else raises :class:`Unresolved`, so a check never passes on something the model
did not understand.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tree_sitter_bicep
from tree_sitter import Language, Node, Parser, Tree

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
MAIN = INFRA / "main.bicep"

_LANGUAGE = Language(tree_sitter_bicep.language())


class Unresolved(Exception):
    """The model can't evaluate this expression statically."""


def parse(source: bytes) -> Tree:
    return Parser(_LANGUAGE).parse(source)


def syntax_errors(tree: Tree) -> list[str]:
    """Every ERROR or MISSING node, as ``line:col kind near '...'`` (1-based lines)."""
    found: list[str] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            kind = "MISSING " + node.type if node.is_missing else "ERROR"
            row, col = node.start_point
            snippet = text(node)[:60].replace("\n", "\\n")
            found.append(f"{row + 1}:{col + 1} {kind} near {snippet!r}")
        stack.extend(node.children)
    return sorted(found)


def text(node: Node) -> str:
    return (node.text or b"").decode()


def kids(node: Node) -> list[Node]:
    """Named children without comments."""
    return [c for c in node.named_children if c.type != "comment"]


def location(file: BicepFile, node: Node) -> str:
    return f"{file.path.relative_to(REPO)}:{node.start_point[0] + 1}"


# ------------------------------------------------------------------ declarations


@dataclass(frozen=True)
class Loop:
    """``for item in iterable`` or ``for (item, index) in iterable``."""

    var: str
    index: str | None
    iterable: Node


@dataclass
class Param:
    name: str
    node: Node
    decorators: dict[str, list[Node]]  # decorator name -> its argument nodes
    type_name: str
    default: Node | None

    @property
    def secure(self) -> bool:
        return "secure" in self.decorators


@dataclass
class Resource:
    name: str
    node: Node
    type: str  # e.g. Microsoft.Storage/storageAccounts (no API version)
    api_version: str
    body: Node  # the object literal
    condition: Node | None  # `= if (condition) {...}`
    loop: Loop | None  # `= [for item in iterable: {...}]` / `[for (item, i) in ...]`
    existing: bool


@dataclass
class Module:
    name: str
    node: Node
    path: Path
    body: Node
    condition: Node | None
    loop: Loop | None


@dataclass(eq=False)
class BicepFile:
    """One parsed .bicep file and its top-level declarations (compared by identity)."""

    path: Path
    tree: Tree
    params: dict[str, Param] = field(default_factory=dict)
    variables: dict[str, Node] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)
    modules: dict[str, Module] = field(default_factory=dict)
    outputs: dict[str, Node] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"BicepFile({self.path.name})"

    @classmethod
    def load(cls, path: Path) -> BicepFile:
        tree = parse(path.read_bytes())
        errors = syntax_errors(tree)
        if errors:
            raise Unresolved(f"{path}: syntax errors: {errors}")
        file = cls(path=path, tree=tree)
        pending: dict[str, list[Node]] = {}
        for node in kids(tree.root_node):
            if node.type == "decorators":
                for decorator in kids(node):
                    call = kids(decorator)[0]
                    fn, args = _call_parts(call)
                    pending[fn] = args
                continue
            decorators, pending = pending, {}
            children = kids(node)
            if node.type == "parameter_declaration":
                name = text(children[0])
                default = children[2] if len(children) > 2 else None
                file.params[name] = Param(name, node, decorators, text(children[1]), default)
            elif node.type == "variable_declaration":
                file.variables[text(children[0])] = children[1]
            elif node.type == "output_declaration":
                file.outputs[text(children[0])] = children[-1]
            elif node.type == "resource_declaration":
                name, type_api = text(children[0]), _plain_string(children[1])
                body, condition, loop = _unwrap_body(children[2])
                rtype, _, api = type_api.partition("@")
                existing = any(c.type == "existing" for c in node.children)
                file.resources[name] = Resource(
                    name, node, rtype, api, body, condition, loop, existing
                )
            elif node.type == "module_declaration":
                name, rel = text(children[0]), _plain_string(children[1])
                body, condition, loop = _unwrap_body(children[2])
                file.modules[name] = Module(
                    name, node, (path.parent / rel).resolve(), body, condition, loop
                )
        return file


def _call_parts(call: Node) -> tuple[str, list[Node]]:
    fn, arguments = kids(call)
    return text(fn), kids(arguments)


def _plain_string(node: Node) -> str:
    if node.type != "string" or any(c.type == "interpolation" for c in kids(node)):
        raise Unresolved(f"expected a plain string, got {text(node)!r}")
    return "".join(_string_piece(c) for c in kids(node))


_ESCAPES = {"\\'": "'", "\\\\": "\\", "\\n": "\n", "\\r": "\r", "\\t": "\t", "\\$": "$"}


def _string_piece(node: Node) -> str:
    if node.type == "escape_sequence":
        return _ESCAPES.get(text(node), text(node))
    return text(node)


def _unwrap_body(node: Node) -> tuple[Node, Node | None, Loop | None]:
    """object | if_statement | for_statement -> (object, condition, loop)."""
    if node.type == "object":
        return node, None, None
    if node.type == "if_statement":
        paren, body = kids(node)
        return body, kids(paren)[0], None
    if node.type == "for_statement":
        loop, body = _loop(node)
        if body.type != "object":
            raise Unresolved(f"unsupported loop form: {text(node)[:80]!r}")
        return body, None, loop
    raise Unresolved(f"unsupported declaration body: {text(node)[:80]!r}")


def _loop(node: Node) -> tuple[Loop, Node]:
    """A for_statement's variables, iterable and body."""
    var, iterable, body = kids(node)
    if var.type == "identifier":
        return Loop(text(var), None, iterable), body
    if var.type == "for_loop_parameters":
        item, index = kids(var)
        return Loop(text(item), text(index), iterable), body
    raise Unresolved(f"unsupported loop form: {text(node)[:80]!r}")


def _key(project: Project, key: Node, env: Env) -> str:
    """An object key: identifier, plain string or interpolated string."""
    if key.type != "string":
        return text(key)
    value = project.eval(key, env)
    assert isinstance(value, str)
    return value


def object_get(obj: Node, key: str) -> Node | None:
    """The value node of ``key`` in an object literal (None if absent)."""
    if obj.type != "object":
        raise Unresolved(f"not an object literal: {text(obj)[:80]!r}")
    for prop in kids(obj):
        if prop.type != "object_property":
            continue
        key_node, value = kids(prop)
        if key_node.type == "string" and any(c.type == "interpolation" for c in kids(key_node)):
            continue  # computed keys aren't looked up by name
        name = _plain_string(key_node) if key_node.type == "string" else text(key_node)
        if name == key:
            return value
    return None


# ------------------------------------------------------------------ values


@dataclass(frozen=True)
class ResourceRef:
    """A resource symbol used as a value (``scope: storage``, ``parent: x``); ``index`` is
    set for one instance of a resource loop (``containers[i]``)."""

    file: BicepFile
    name: str
    index: int | None = None

    @property
    def resource(self) -> Resource:
        return self.file.resources[self.name]

    @property
    def label(self) -> str:
        return self.name if self.index is None else f"{self.name}[{self.index}]"

    def __repr__(self) -> str:
        return f"ResourceRef({self.file.path.name}:{self.label})"


@dataclass(frozen=True)
class ModuleRef:
    file: BicepFile
    module: Module


@dataclass(frozen=True)
class ModuleOutputs:
    file: BicepFile
    module: Module


@dataclass(frozen=True)
class Opaque:
    """A value only known at deployment time: ``<base>.<path...>``."""

    base: ResourceRef
    path: tuple[str, ...]

    def __str__(self) -> str:
        return "<" + ".".join((self.base.label, *self.path)) + ">"


@dataclass(frozen=True)
class Env:
    """Where an expression is evaluated: its file and the loop variables in scope."""

    file: BicepFile
    loop_vars: Mapping[str, Any] = field(default_factory=dict)

    def bind(self, name: str, value: Any) -> Env:
        return Env(self.file, {**self.loop_vars, name: value})


class Project:
    """All .bicep files reachable from main.bicep, and an evaluator over them.

    ``main_params`` are the deployment's parameter values (what ``-p`` would pass);
    main.bicep's other parameters take their defaults.
    """

    def __init__(self, main: Path = MAIN, main_params: Mapping[str, Any] | None = None) -> None:
        self.files: dict[Path, BicepFile] = {}
        self.main = self._load(main.resolve())
        self.main_params = dict(main_params or {})
        unknown = set(self.main_params) - set(self.main.params)
        if unknown:
            raise Unresolved(f"main.bicep has no parameter(s) {sorted(unknown)}")

    def _load(self, path: Path) -> BicepFile:
        if path not in self.files:
            file = self.files[path] = BicepFile.load(path)
            for module in file.modules.values():
                self._load(module.path)
        return self.files[path]

    def callers(self, file: BicepFile) -> list[tuple[BicepFile, Module]]:
        return [
            (caller, module)
            for caller in self.files.values()
            for module in caller.modules.values()
            if module.path == file.path
        ]

    def resources(self, rtype: str) -> Iterator[tuple[BicepFile, Resource]]:
        for file in self.files.values():
            for resource in file.resources.values():
                if resource.type.lower() == rtype.lower():
                    yield file, resource

    def the_resource(self, rtype: str) -> tuple[BicepFile, Resource]:
        found = [(f, r) for f, r in self.resources(rtype) if not r.existing]
        if len(found) != 1:
            names = [f"{location(f, r.node)} {r.name}" for f, r in found]
            raise AssertionError(f"expected exactly one {rtype} resource, found {names}")
        return found[0]

    # -------------------------------------------------------------- evaluation

    def instances(self, file: BicepFile, resource: Resource) -> list[dict[str, Any]]:
        """The resource's body evaluated once per loop item ([] when its condition, or the
        condition of the module deploying its file, is false)."""
        env = Env(file)
        if not self.deployed(file):
            return []
        if resource.condition is not None and not self.eval(resource.condition, env):
            return []
        if resource.loop is None:
            return [self.eval(resource.body, env)]
        return [self.eval(resource.body, e) for e in self.loop_envs(env, resource.loop)]

    def deployed(self, file: BicepFile) -> bool:
        """Whether the file is deployed: main.bicep, or a module whose `if` holds."""
        if file is self.main:
            return True
        callers = self.callers(file)
        if len(callers) != 1:
            raise Unresolved(f"{file.path.name} is used by {len(callers)} modules, not 1")
        caller, module = callers[0]
        if module.condition is not None and not self._truth(module.condition, Env(caller)):
            return False
        return self.deployed(caller)

    def loop_envs(self, env: Env, loop: Loop) -> list[Env]:
        """One environment per item of the loop, with its variables bound."""
        items = self.eval(loop.iterable, env)
        if not isinstance(items, list):
            raise Unresolved(f"{location(env.file, loop.iterable)}: loop over a non-array")
        envs = [env.bind(loop.var, item) for item in items]
        if loop.index is not None:
            envs = [e.bind(loop.index, i) for i, e in enumerate(envs)]
        return envs

    def resource_name(self, ref: ResourceRef) -> Any:
        """The evaluated ``name`` of a resource (of one loop instance when indexed)."""
        resource = ref.resource
        name_node = object_get(resource.body, "name")
        if name_node is None:
            raise Unresolved(f"{location(ref.file, resource.node)}: {ref.name} has no name")
        if resource.loop is None:
            if ref.index is not None:
                raise Unresolved(f"{ref.name} is not a loop, can't index it")
            return self.eval(name_node, Env(ref.file))
        if ref.index is None:
            raise Unresolved(f"{location(ref.file, resource.node)}: name of a loop, unindexed")
        envs = self.loop_envs(Env(ref.file), resource.loop)
        return self.eval(name_node, envs[ref.index])

    def param_value(self, file: BicepFile, name: str) -> Any:
        param = file.params[name]
        if file is self.main:
            if name in self.main_params:
                return self.main_params[name]
        else:
            callers = self.callers(file)
            if len(callers) != 1:
                raise Unresolved(f"{file.path.name} is used by {len(callers)} modules, not 1")
            caller, module = callers[0]
            params = object_get(module.body, "params")
            passed = object_get(params, name) if params is not None else None
            if passed is not None:
                if module.loop is not None:
                    raise Unresolved(f"{location(caller, module.node)}: module loops")
                return self.eval(passed, Env(caller))
        if param.default is None:
            raise Unresolved(f"{location(file, param.node)}: no value for parameter {name}")
        return self.eval(param.default, Env(file))

    def eval(self, node: Node, env: Env) -> Any:
        kind = node.type
        if kind == "string":
            return "".join(
                _stringify(self.eval(kids(part)[0], env))
                if part.type == "interpolation"
                else _string_piece(part)
                for part in kids(node)
            )
        if kind == "number":
            return int(text(node))
        if kind == "boolean":
            return text(node) == "true"
        if kind == "null":
            return None
        if kind == "array":
            return [self.eval(item, env) for item in kids(node)]
        if kind == "object":
            out: dict[str, Any] = {}
            for prop in kids(node):
                if prop.type != "object_property":
                    raise Unresolved(f"{location(env.file, prop)}: unsupported {prop.type}")
                key, value = kids(prop)
                out[_key(self, key, env)] = self.eval(value, env)
            return out
        if kind == "parenthesized_expression":
            return self.eval(kids(node)[0], env)
        if kind == "identifier":
            return self._identifier(text(node), node, env)
        if kind == "member_expression":
            obj, prop = kids(node)
            return self._postfix(obj, lambda value: self._member(value, text(prop), node, env), env)
        if kind == "subscript_expression":
            obj, index = kids(node)
            return self._postfix(
                obj, lambda value: self._subscript(value, self.eval(index, env), node, env), env
            )
        if kind == "ternary_expression":
            cond, then, other = kids(node)
            return self.eval(then if self._truth(cond, env) else other, env)
        if kind == "unary_expression":
            (operand,) = kids(node)
            op = node.children[0].type
            value = self.eval(operand, env)
            if op == "!" and isinstance(value, bool):
                return not value
            if op == "-" and isinstance(value, int):
                return -value
            raise Unresolved(f"{location(env.file, node)}: {text(node)!r}")
        if kind == "binary_expression":
            return self._binary(node, env)
        if kind == "call_expression":
            fn, args = _call_parts(node)
            builtin = _BUILTINS.get(fn)
            if builtin is None:
                raise Unresolved(f"{location(env.file, node)}: function {fn}() not modelled")
            return builtin(*(self.eval(a, env) for a in args))
        if kind == "for_statement":
            loop, body = _loop(node)
            return [self.eval(body, e) for e in self.loop_envs(env, loop)]
        raise Unresolved(f"{location(env.file, node)}: {kind} not modelled: {text(node)[:60]!r}")

    def _postfix(self, obj: Node, apply: Callable[[Any], Any], env: Env) -> Any:
        """``obj.prop`` / ``obj[i]``. tree-sitter-bicep reads ``c ? a : b.prop`` as
        ``(c ? a : b).prop``; Bicep binds the member to ``b``, and so does this."""
        if obj.type == "ternary_expression":
            cond, then, other = kids(obj)
            if self._truth(cond, env):
                return self.eval(then, env)
            return self._postfix(other, apply, env)
        return apply(self.eval(obj, env))

    def _truth(self, node: Node, env: Env) -> bool:
        value = self.eval(node, env)
        if not isinstance(value, bool):
            raise Unresolved(f"{location(env.file, node)}: condition is not a known bool")
        return value

    def _identifier(self, name: str, node: Node, env: Env) -> Any:
        file = env.file
        if name in env.loop_vars:
            return env.loop_vars[name]
        if name in file.variables:
            return self.eval(file.variables[name], Env(file))
        if name in file.params:
            return self.param_value(file, name)
        if name in file.resources:
            return ResourceRef(file, name)
        if name in file.modules:
            return ModuleRef(file, file.modules[name])
        raise Unresolved(f"{location(file, node)}: unknown symbol {name}")

    def _member(self, obj: Any, prop: str, node: Node, env: Env) -> Any:
        if isinstance(obj, dict):
            if prop not in obj:
                raise Unresolved(f"{location(env.file, node)}: no property {prop}")
            return obj[prop]
        if isinstance(obj, ModuleRef):
            if prop == "outputs":
                return ModuleOutputs(obj.file, obj.module)
            raise Unresolved(f"{location(env.file, node)}: module property {prop}")
        if isinstance(obj, ModuleOutputs):
            target = self.files[obj.module.path]
            if prop not in target.outputs:
                raise Unresolved(f"{location(env.file, node)}: no output {prop}")
            return self.eval(target.outputs[prop], Env(target))
        if isinstance(obj, ResourceRef):
            if prop == "name":
                return self.resource_name(obj)
            return Opaque(obj, (prop,))
        if isinstance(obj, Opaque):
            return Opaque(obj.base, (*obj.path, prop))
        raise Unresolved(f"{location(env.file, node)}: .{prop} of {obj!r}")

    def _subscript(self, obj: Any, index: Any, node: Node, env: Env) -> Any:
        if isinstance(obj, ResourceRef) and obj.index is None and obj.resource.loop is not None:
            if not isinstance(index, int):
                raise Unresolved(f"{location(env.file, node)}: index {index!r}")
            return ResourceRef(obj.file, obj.name, index)
        if isinstance(obj, list) and isinstance(index, int):
            return obj[index]
        if isinstance(obj, dict) and isinstance(index, str) and index in obj:
            return obj[index]
        raise Unresolved(f"{location(env.file, node)}: {text(node)[:60]!r}")

    def _binary(self, node: Node, env: Env) -> Any:
        left_node, right_node = kids(node)
        op = next(c.type for c in node.children if not c.is_named)
        if op in ("&&", "||"):
            left = self._truth(left_node, env)
            if (op == "&&" and not left) or (op == "||" and left):
                return left
            return self._truth(right_node, env)
        left, right = self.eval(left_node, env), self.eval(right_node, env)
        if isinstance(left, Opaque) or isinstance(right, Opaque):
            raise Unresolved(f"{location(env.file, node)}: compares a deployment-time value")
        ops: dict[str, Callable[[Any, Any], Any]] = {
            "==": lambda a, b: _fold(a) == _fold(b),
            "!=": lambda a, b: _fold(a) != _fold(b),
            "+": lambda a, b: a + b,
            "-": lambda a, b: a - b,
            "*": lambda a, b: a * b,
            "<": lambda a, b: a < b,
            ">": lambda a, b: a > b,
            "<=": lambda a, b: a <= b,
            ">=": lambda a, b: a >= b,
        }
        if op not in ops:
            raise Unresolved(f"{location(env.file, node)}: operator {op}")
        return ops[op](left, right)


def _fold(value: Any) -> Any:
    # Bicep's == on strings is case-insensitive.
    return value.lower() if isinstance(value, str) else value


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, Opaque)):
        return str(value)
    raise Unresolved(f"can't interpolate {value!r}")


def _string(value: Any) -> str:
    """Bicep's string(): JSON for objects and arrays (deployment-time values as <...>)."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str, separators=(",", ":"))
    return _stringify(value)


def _unique_string(*parts: Any) -> str:
    digest = hashlib.sha256("|".join(map(_stringify, parts)).encode()).hexdigest()
    return "".join(chr(ord("a") + int(c, 16) % 26) for c in digest[:13])


def _union(*objects: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for obj in objects:
        if not isinstance(obj, dict):
            raise Unresolved(f"union() of a non-object {obj!r}")
        out.update(obj)
    return out


def _concat(*parts: Any) -> Any:
    if all(isinstance(p, str) for p in parts):
        return "".join(parts)
    if all(isinstance(p, list) for p in parts):
        return [x for part in parts for x in part]
    raise Unresolved(f"concat() of {parts!r}")


def _empty(value: Any) -> bool:
    if isinstance(value, Opaque):
        raise Unresolved(f"empty() of a deployment-time value {value}")
    return value is None or len(value) == 0


_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
_ENVIRONMENT = {
    "name": "AzureCloud",
    "authentication": {"loginEndpoint": "https://login.microsoftonline.com/"},
    "suffixes": {"storage": "core.windows.net"},
}

_BUILTINS: dict[str, Callable[..., Any]] = {
    "string": _string,
    "empty": _empty,
    "length": len,
    "toLower": lambda s: s.lower(),
    "toUpper": lambda s: s.upper(),
    "replace": lambda s, old, new: s.replace(old, new),
    "take": lambda s, n: s[:n],
    "substring": lambda s, start, n: s[start : start + n],
    "startsWith": lambda s, p: s.lower().startswith(p.lower()),
    "endsWith": lambda s, p: s.lower().endswith(p.lower()),
    "contains": lambda c, x: x in c,
    "union": _union,
    "concat": _concat,
    "items": lambda d: [{"key": k, "value": d[k]} for k in sorted(d, key=str.lower)],
    "uniqueString": _unique_string,
    "guid": lambda *parts: _unique_string("guid", *parts),
    "environment": lambda: _ENVIRONMENT,
    "tenant": lambda: {"tenantId": "11111111-1111-1111-1111-111111111111"},
    "subscription": lambda: {"id": f"/subscriptions/{_SUBSCRIPTION_ID}"},
    "resourceGroup": lambda: {
        "id": f"/subscriptions/{_SUBSCRIPTION_ID}/resourceGroups/rg-bookker",
        "name": "rg-bookker",
        "location": "westeurope",
    },
    "subscriptionResourceId": lambda rtype, *names: (
        f"/subscriptions/{_SUBSCRIPTION_ID}/providers/{rtype}/" + "/".join(names)
    ),
}

GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)

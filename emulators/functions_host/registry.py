"""Load a FunctionApp and describe its functions by trigger."""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    trigger_type: str  # httpTrigger | queueTrigger | timerTrigger | ...
    trigger_arg: str
    user_function: Callable[..., Any]
    trigger: dict[str, Any] = field(default_factory=dict)

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.user_function)

    @property
    def wants_context(self) -> str | None:
        for name, param in inspect.signature(self.user_function).parameters.items():
            if param.annotation in (func.Context, "func.Context", "Context") or name == "context":
                return name
        return None


def load_app(target: str, app_dir: Path) -> func.FunctionApp:
    """``module:attribute`` (default attribute ``app``) imported with app_dir on sys.path."""
    module_name, _, attr = target.partition(":")
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    module = importlib.import_module(module_name)
    app = getattr(module, attr or "app")
    if not isinstance(app, func.FunctionApp):
        raise TypeError(f"{target} is not an azure.functions.FunctionApp")
    return app


def describe(app: func.FunctionApp) -> list[FunctionSpec]:
    specs: list[FunctionSpec] = []
    names: set[str] = set()
    for function in app.get_functions():
        trigger = function.get_trigger()
        if trigger is None:
            raise ValueError(f"function {function.get_function_name()} has no trigger")
        name = function.get_function_name() or function.get_user_function().__name__
        if name in names:
            raise ValueError(f"duplicate function name {name}")
        names.add(name)
        specs.append(
            FunctionSpec(
                name=name,
                trigger_type=trigger.get_binding_name(),
                trigger_arg=trigger.name,
                user_function=function.get_user_function(),
                trigger=_plain(trigger.get_dict_repr()),
            )
        )
    return specs


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """Binding dicts carry enums; keep their string values."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, list):
            out[key] = [getattr(v, "value", v) for v in value]
        else:
            out[key] = getattr(value, "value", value)
    return out

"""The CLI reads the same settings as the app: environment variables, plus the
``Values`` of ``local.settings.json`` (the current directory's, or ``--settings``)
where the environment has no value, as ``func start`` does."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bookker_sync.settings import SettingsError

DEFAULT_FILE = "local.settings.json"
# Paths in local.settings.json are relative to the file's folder (the app folder).
PATH_SETTINGS = ("GRAPH_CA_BUNDLE", "GRAPH_CERTIFICATE_PATH", "FUNCTIONS_HOST_CLOCK_CA")


def _values(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SettingsError(f"cannot read {path}: {exc}") from exc
    values = data.get("Values") if isinstance(data, dict) else None
    if not isinstance(values, dict):
        raise SettingsError(f"{path}: no Values object")
    out = {str(k): str(v) for k, v in values.items()}
    for name in PATH_SETTINGS:
        value = out.get(name)
        if value and not Path(value).is_absolute():
            out[name] = str((path.parent / value).resolve())
    return out


def settings_env(settings_file: str | None = None) -> dict[str, str]:
    """The environment the app would see: env vars win over the file's Values."""
    if settings_file is not None:
        path = Path(settings_file)
        if not path.is_file():
            raise SettingsError(f"settings file {settings_file} not found")
    else:
        path = Path.cwd() / DEFAULT_FILE
    values = _values(path) if path.is_file() else {}
    return {**values, **os.environ}

"""Structured, redacted logs: every line says which function, invocation, tenant and
mailbox it belongs to, and never carries a secret or a clientState.

- ``log_scope(function=..., invocation=..., tenant=..., mailbox=...)`` sets the fields
  for everything logged inside it (contextvars: each asyncio task sees its own);
  ``bind(...)`` narrows the current scope (e.g. once a queue message is parsed).
- ``install()`` (called once by ``bookker_sync.telemetry.configure``) puts a record
  factory in place that adds the fields and redacts the message of *every* record,
  whichever handler ships it, and formats the root handlers' lines as ``key=value``.
- ``redact(text)`` removes the values of secret settings (client secret, storage
  account keys, function keys) and anything that looks like a clientState, a bearer
  token or a signature.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime

FIELDS = ("function", "invocation", "tenant", "mailbox")
_EMPTY = "-"


@dataclass(frozen=True)
class LogFields:
    function: str = _EMPTY
    invocation: str = _EMPTY
    tenant: str = _EMPTY
    mailbox: str = _EMPTY


_NO_FIELDS = LogFields()  # frozen: safe as the shared default
_current: contextvars.ContextVar[LogFields] = contextvars.ContextVar(
    "bookker_log_fields", default=_NO_FIELDS
)


def current() -> LogFields:
    return _current.get()


def _clean(values: Mapping[str, str | None]) -> dict[str, str]:
    return {k: str(v)[:200] for k, v in values.items() if k in FIELDS and v}


@contextmanager
def log_scope(**fields: str | None) -> Iterator[LogFields]:
    """Fields for every record logged inside the block (restored afterwards)."""
    token = _current.set(replace(_current.get(), **_clean(fields)))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def bind(**fields: str | None) -> None:
    """Add fields to the current scope (until the enclosing ``log_scope`` ends)."""
    _current.set(replace(_current.get(), **_clean(fields)))


# -- redaction ---------------------------------------------------------------------
# Settings whose whole value is a secret, and settings holding connection strings
# (whose AccountKey / SharedAccessSignature / InstrumentationKey parts are secret).
SECRET_SETTINGS = (
    "GRAPH_CLIENT_SECRET",
    "APP_SECRET_KEY",
    "GRAPH_CERTIFICATE",
    "FUNCTIONS_HOST_FUNCTION_KEY",
    "FUNCTIONS_HOST_MASTER_KEY",
)
CONNECTION_SETTINGS = ("AzureWebJobsStorage", "APPLICATIONINSIGHTS_CONNECTION_STRING")
MASK = "***"
_MIN_SECRET_LENGTH = 6  # shorter "secrets" would mangle ordinary words

_PATTERNS = [
    # clientState in JSON, Python reprs, query strings and key=value text
    re.compile(r"""(?i)(client_?state["']?\s*[:=]\s*["']?)[^"',\s}&)]+"""),
    re.compile(r"""(?i)((?:AccountKey|SharedAccessSignature|InstrumentationKey)=)[^;\s"']+"""),
    re.compile(r"""(?i)([?&](?:sig|code|client_secret|client_assertion|state)=)[^&\s"']+"""),
    re.compile(r"""(?i)(client_?secret["']?\s*[:=]\s*["']?)[^"',\s}&)]+"""),
    re.compile(r"""(?i)(x-functions-key["']?\s*[:=]\s*["']?)[^"',\s}]+"""),
    re.compile(r"""(?i)(\bBearer\s+)[A-Za-z0-9\-_.~+/]+=*"""),
]
_secret_values: set[str] = set()


def register_secrets(env: Mapping[str, str] | None = None) -> None:
    """Remember the secret values of ``env`` (default: os.environ) so they are masked
    wherever they appear, even without a telltale key name next to them."""
    source = os.environ if env is None else env
    for name in SECRET_SETTINGS:
        _add_secret(source.get(name))
    for name in CONNECTION_SETTINGS:
        for part in (source.get(name) or "").split(";"):
            key, _, value = part.partition("=")
            if key.strip().lower() in ("accountkey", "sharedaccesssignature"):
                _add_secret(value.strip())


def _add_secret(value: str | None) -> None:
    if value and len(value) >= _MIN_SECRET_LENGTH:
        _secret_values.add(value)


def redact(text: str) -> str:
    for secret in _secret_values:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


# -- records and lines ---------------------------------------------------------------
_base_factory = logging.getLogRecordFactory()
_installed = False


def _record_factory(*args: object, **kwargs: object) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    fields = _current.get()
    for name in FIELDS:  # prefixed: plain names would clash with callers' ``extra``
        setattr(record, f"ctx_{name}", getattr(fields, name))
    try:
        message = record.getMessage()
    except Exception:  # a broken %-format: leave it to the handler to report
        return record
    record.msg, record.args = redact(message), None
    return record


def _quote(value: str) -> str:
    if value and not any(c in value for c in ' "=\n\r\t\\'):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


class KeyValueFormatter(logging.Formatter):
    """One line per record: ``<time> level=... logger=... function=... invocation=...
    tenant=... mailbox=... msg="..." [exc="..."]``, redacted."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        parts = [
            moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
            f"level={record.levelname.lower()}",
            f"logger={_quote(record.name)}",
        ]
        fields = _current.get()
        for name in FIELDS:
            value = getattr(record, f"ctx_{name}", None) or getattr(fields, name)
            parts.append(f"{name}={_quote(str(value))}")
        parts.append(f"msg={_quote(redact(record.getMessage()))}")
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            parts.append(f"exc={_quote(redact(record.exc_text))}")
        return " ".join(parts)


def install(env: Mapping[str, str] | None = None) -> None:
    """Once per process: redacting record factory, key=value lines on root handlers."""
    global _installed
    register_secrets(env)
    if _installed:
        return
    _installed = True
    logging.setLogRecordFactory(_record_factory)
    formatter = KeyValueFormatter()
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)

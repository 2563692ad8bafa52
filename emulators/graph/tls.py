"""The emulator's certificate authority and server certificate (trustme).

The CA is kept in ``.local/emulator-ca.pem`` (+ ``.key``) at the repository root and
reused by every emulator process, so that a CA path written by one instance stays
valid while another instance runs (tests start their own emulator next to a
``make up`` one). A fresh server certificate for ``localhost`` and ``127.0.0.1`` is
issued at every start.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import ssl
import tempfile
from pathlib import Path

import trustme

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CA_PATH = REPO_ROOT / ".local" / "emulator-ca.pem"


def _atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load_or_create_ca(ca_path: Path = DEFAULT_CA_PATH) -> trustme.CA:
    """The shared CA: loaded from ``ca_path`` and its ``.key`` file, or created there."""
    key_path = ca_path.with_suffix(".key")
    ca_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = ca_path.with_suffix(".lock")
    with open(lock_path, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if ca_path.exists() and key_path.exists():
                try:
                    return trustme.CA.from_pem(ca_path.read_bytes(), key_path.read_bytes())
                except ValueError:
                    pass  # unreadable leftovers: make a new CA below
            ca = trustme.CA(organization_name="Bookker Graph Emulator")
            _atomic_write(key_path, ca.private_key_pem.bytes(), 0o600)
            _atomic_write(ca_path, ca.cert_pem.bytes())
            return ca
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def server_ssl_context(ca: trustme.CA) -> ssl.SSLContext:
    cert = ca.issue_cert("localhost", "127.0.0.1")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    return ctx


def write_ca(ca: trustme.CA, path: Path) -> Path:
    path = path.expanduser().resolve()
    _atomic_write(path, ca.cert_pem.bytes())
    return path

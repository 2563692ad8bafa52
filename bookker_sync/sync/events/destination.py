"""Where a tenant's events may be pushed: no SSRF.

A push URL must be ``https`` (or, when the local setting EVENTS_ALLOW_LOCAL_HTTP is on,
``http://127.0.0.1:*`` / ``http://localhost:*``), with no user info. Its host is
resolved and EVERY address must be public: private, loopback, link-local (cloud
metadata at 169.254.169.254), multicast, reserved and unspecified addresses are
refused. The check runs when the URL is set and again at each delivery, and the
delivery connects to the very address that was checked (with the host name kept for
TLS), so a DNS answer that changes in between (DNS rebinding) can't redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

LOCAL_HOSTS = ("127.0.0.1", "localhost")
MAX_URL = 2000
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeDestinationError(ValueError):
    """A push URL we refuse to call; the message says why."""


@dataclass(frozen=True)
class Destination:
    url: str
    scheme: str
    host: str
    port: int
    target: str  # path + query

    def pinned_url(self, address: IpAddress) -> str:
        """The URL with the checked address as its host (the name goes in Host/SNI)."""
        host = f"[{address}]" if address.version == 6 else str(address)
        return f"{self.scheme}://{host}:{self.port}{self.target}"


def parse_destination(url: str, *, allow_local: bool) -> Destination:
    """The URL's parts; UnsafeDestinationError if its form is not allowed."""
    if len(url) > MAX_URL:
        raise UnsafeDestinationError(f"url is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeDestinationError(f"url is not a valid URL: {exc}") from None
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeDestinationError("url has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeDestinationError("url must not carry user info")
    if parts.fragment:
        raise UnsafeDestinationError("url must not have a fragment")
    local = allow_local and host in LOCAL_HOSTS
    if parts.scheme == "https" or (parts.scheme == "http" and local):
        pass
    elif parts.scheme == "http" and host in LOCAL_HOSTS:
        raise UnsafeDestinationError(
            "http://localhost push URLs are allowed under the local stack only"
        )
    else:
        raise UnsafeDestinationError("url must be https")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default = 443 if parts.scheme == "https" else 80
    return Destination(url, parts.scheme, host, port or default, target)


def allowed_address(address: IpAddress, destination: Destination, *, allow_local: bool) -> bool:
    if allow_local and destination.host in LOCAL_HOSTS:
        return address.is_loopback
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:  # ::ffff:10.0.0.1 is 10.0.0.1
        address = mapped
    return bool(address.is_global) and not (
        address.is_multicast or address.is_reserved or address.is_unspecified
    )


async def resolve_safe(destination: Destination, *, allow_local: bool) -> IpAddress:
    """The address to connect to: the host's first address, once every address the
    host resolves to is known to be allowed."""
    try:
        literal: IpAddress | None = ipaddress.ip_address(destination.host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(
                destination.host, destination.port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise UnsafeDestinationError(f"cannot resolve {destination.host}: {exc}") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise UnsafeDestinationError(f"{destination.host} has no address")
    refused = [a for a in addresses if not allowed_address(a, destination, allow_local=allow_local)]
    if refused:
        raise UnsafeDestinationError(
            f"{destination.host} resolves to a private or reserved address ({refused[0]})"
        )
    return addresses[0]


async def check_destination(url: str, *, allow_local: bool) -> Destination:
    destination = parse_destination(url, allow_local=allow_local)
    await resolve_safe(destination, allow_local=allow_local)
    return destination

"""Which network addresses the portal's own HTTP calls (the probe) may reach.

A probe that fetches any URL lets whoever may edit a service make the worker call addresses
inside the portal's network: the database's host, an admin interface on localhost, a cloud
metadata service at 169.254.169.254 that hands out credentials. Only public addresses are
probed, checked after DNS resolution (a public name may resolve to 127.0.0.1) and again at
every redirect (each new connection is checked) and on the very address connected to, so a
name that resolves differently the second time (DNS rebinding) gains nothing.

``SLA_PROBE_ALLOW_PRIVATE`` lifts the rule, for a portal that monitors an internal network.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

ALLOW_SETTING = "SLA_PROBE_ALLOW_PRIVATE"


class RefusedAddress(OSError):
    """A connection the probe does not make; its text says why."""


def address_problem(address: str) -> str:
    """Why ``address`` (an IP literal) is not a public address, or ``""`` when it is."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified:
        kind = "an unspecified address"
    elif ip.is_loopback:
        kind = "a loopback address"
    elif ip.is_link_local:
        # 169.254.0.0/16 holds the cloud metadata service (169.254.169.254).
        kind = "a link-local address (cloud metadata lives there)"
    elif ip.is_multicast:
        kind = "a multicast address"
    elif ip.is_private or ip.is_reserved or not ip.is_global:
        # RFC 1918, unique-local IPv6 (fc00::/7), carrier-grade NAT, documentation ranges.
        kind = "a private or reserved address"
    else:
        return ""
    return f"{address} is {kind}"


def allowed_private() -> bool:
    return bool(getattr(settings, ALLOW_SETTING, False))


def resolve(host: str, port: int | None) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port or 0, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def host_problem(host: str, port: int | None = None) -> str:
    """Why ``host`` may not be probed, or ``""``. A name that does not resolve is not refused
    here: the probe reports it as a failed attempt, as for any unreachable service."""
    if allowed_private():
        return ""
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        return ""
    for address in addresses:
        problem = address_problem(address)
        if problem:
            shown = problem if address == host else f"{host} resolves to {problem}"
            return (
                f"{shown}; the probe only calls public addresses "
                f"(an administrator can allow internal ones with {ALLOW_SETTING})"
            )
    return ""


def validate_probe_url(value: str) -> None:
    """Form and serializer validator: refuse a URL whose host is not public, saying why."""
    try:
        parts = urlsplit(value)
        host, port = parts.hostname, parts.port
    except ValueError:
        return  # the URL validator reports malformed URLs
    if not host:
        return
    problem = host_problem(host, port)
    if problem:
        raise ValidationError(f"This URL cannot be probed: {problem}.", code="private_address")


def guarded_create_connection(
    address: tuple[str, int], timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None
) -> socket.socket:
    """``socket.create_connection`` that refuses non-public addresses unless allowed, and
    connects to the very address it checked."""
    host, port = address
    if allowed_private():
        return socket.create_connection(address, timeout, source_address)
    last_error: OSError | None = None
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for *_info, sockaddr in infos:
        problem = address_problem(str(sockaddr[0]))
        if problem:
            raise RefusedAddress(
                f"refused: {host} resolves to {problem} ({ALLOW_SETTING} is off)"
                if sockaddr[0] != host
                else f"refused: {problem} ({ALLOW_SETTING} is off)"
            )
    for family, socktype, proto, _name, sockaddr in infos:
        sock = socket.socket(family, socktype, proto)
        try:
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last_error = exc
    raise last_error or OSError(f"{host} resolves to no address")

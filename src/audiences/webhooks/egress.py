"""Where webhooks may send: `http`/`https` URLs whose host resolves only to public
addresses (no loopback, private, link-local, shared, reserved, multicast or unspecified
address), unless `AUDIENCES_WEBHOOK_ALLOW_PRIVATE=true`.

The check runs twice: when a webhook is registered (400 `webhook_url_not_allowed`), and
on every delivery inside the HTTP client's connect step (`GuardedNetworkBackend`), which
connects to the very address it checked — so a DNS name that later re-points at an
internal address (DNS rebinding) is still refused. TLS still verifies the original host.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

import httpcore
import httpx

from audiences.webhooks.errors import WebhookUrlNotAllowed, WebhookUrlUnresolvable

MAX_URL_LENGTH = 2048
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the event loop's non-blocking getaddrinfo)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_allowed(address: str) -> bool:
    """True for globally routable unicast addresses only."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def split_url(url: str) -> tuple[str, int]:
    """The host and port of a webhook URL; `WebhookUrlNotAllowed` when it is not one."""
    if len(url) > MAX_URL_LENGTH:
        raise WebhookUrlNotAllowed(f"Webhook URLs are limited to {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookUrlNotAllowed("The webhook URL is not a valid URL.") from exc
    if parts.scheme not in ("http", "https"):
        raise WebhookUrlNotAllowed("Webhook URLs must use http or https.")
    if not parts.hostname:
        raise WebhookUrlNotAllowed("The webhook URL has no host.")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def check_webhook_url(url: str, *, allow_private: bool, resolve: Resolver = resolve_host) -> None:
    """Refuse a URL webhooks may not call (see the module docstring)."""
    host, port = split_url(url)
    try:
        addresses = await resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise WebhookUrlUnresolvable(f"The webhook host {host!r} does not resolve.") from exc
    if not addresses:
        raise WebhookUrlUnresolvable(f"The webhook host {host!r} does not resolve.")
    if allow_private:
        return
    refused = [a for a in addresses if not address_allowed(a)]
    if refused:
        raise WebhookUrlNotAllowed(
            f"The webhook host {host!r} resolves to a loopback, private, link-local or reserved "
            "address; webhooks may only call public addresses."
        )


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks and connects to the checked address itself (see module docstring)."""

    def __init__(self, *, allow_private: bool, resolve: Resolver = resolve_host) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private
        self._resolve = resolve

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's backend interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._resolve(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"{host} does not resolve") from exc
        allowed = addresses if self._allow_private else [a for a in addresses if address_allowed(a)]
        if not allowed:
            raise httpcore.ConnectError(f"{host} resolves only to addresses webhooks may not call")
        last: Exception = httpcore.ConnectError(f"could not connect to {host}")
        for address in allowed:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's backend interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks do not use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, with its connection pool built over `GuardedNetworkBackend`
    (httpx has no public switch for the network backend; its pool is `_pool`)."""

    def __init__(self, *, allow_private: bool, resolve: Resolver = resolve_host) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=20,
            max_keepalive_connections=10,
            keepalive_expiry=5.0,
            network_backend=GuardedNetworkBackend(allow_private=allow_private, resolve=resolve),
        )

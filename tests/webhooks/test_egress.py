"""Where webhooks may send: public http(s) addresses only, checked at registration and
again at connect time."""

from __future__ import annotations

import httpx
import pytest

from audiences.webhooks.delivery import build_delivery_client
from audiences.webhooks.egress import Resolver, address_allowed, check_webhook_url
from audiences.webhooks.errors import WebhookUrlNotAllowed, WebhookUrlUnresolvable
from tests.webhooks.receiver import Receiver, running


def resolver(*addresses: str) -> Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


async def unresolvable(host: str, port: int) -> list[str]:
    raise OSError("Name or service not known")


class TestAddressAllowed:
    @pytest.mark.parametrize(
        "address",
        [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "192.0.2.10",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::",
            "not-an-ip",
        ],
    )
    def test_non_public_addresses_are_refused(self, address: str) -> None:
        assert not address_allowed(address)

    @pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
    def test_public_addresses_are_allowed(self, address: str) -> None:
        assert address_allowed(address)


class TestCheckWebhookUrl:
    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://[::1]/hook",
            "https://10.0.0.5/hook",
            "http://169.254.169.254/latest/meta-data",
        ],
    )
    async def test_loopback_private_and_link_local_hosts_are_refused(self, url: str) -> None:
        with pytest.raises(WebhookUrlNotAllowed):
            await check_webhook_url(url, allow_private=False)

    async def test_a_name_resolving_to_any_private_address_is_refused(self) -> None:
        with pytest.raises(WebhookUrlNotAllowed):
            await check_webhook_url(
                "https://hooks.example.com/x",
                allow_private=False,
                resolve=resolver("93.184.215.14", "10.0.0.1"),
            )

    async def test_a_name_resolving_to_public_addresses_is_accepted(self) -> None:
        await check_webhook_url(
            "https://hooks.example.com/x", allow_private=False, resolve=resolver("93.184.215.14")
        )

    @pytest.mark.parametrize(
        "url",
        [
            "ftp://hooks.example.com/x",
            "file:///etc/passwd",
            "hooks.example.com/x",
            "http:///nohost",
            "http://h:99999/",
        ],
    )
    async def test_only_http_and_https_urls_with_a_host_are_accepted(self, url: str) -> None:
        with pytest.raises(WebhookUrlNotAllowed):
            await check_webhook_url(url, allow_private=True, resolve=resolver("93.184.215.14"))

    async def test_a_host_that_does_not_resolve_is_refused(self) -> None:
        with pytest.raises(WebhookUrlUnresolvable):
            await check_webhook_url("https://nowhere.invalid/x", allow_private=False, resolve=unresolvable)

    async def test_private_addresses_are_accepted_when_allowed(self) -> None:
        await check_webhook_url("http://127.0.0.1:9/hook", allow_private=True)


class TestDeliveryClientGuard:
    """The delivery client re-checks at connect time (DNS may change after registration)."""

    async def test_a_private_address_is_not_connected_to_when_not_allowed(self) -> None:
        async with running(Receiver()) as receiver, build_delivery_client(allow_private=False) as client:
            with pytest.raises(httpx.ConnectError, match="webhooks may not call"):
                await client.post(receiver.url, content=b"{}")
        assert receiver.requests == []

    async def test_a_name_that_now_resolves_privately_is_not_connected_to(self) -> None:
        async with (
            running(Receiver()) as receiver,
            build_delivery_client(allow_private=False, resolve=resolver("127.0.0.1")) as client,
        ):
            with pytest.raises(httpx.ConnectError):
                await client.post(f"http://rebound.example.com:{receiver.port}/hook", content=b"{}")
        assert receiver.requests == []

    async def test_private_addresses_are_reached_when_allowed(self) -> None:
        async with running(Receiver()) as receiver, build_delivery_client(allow_private=True) as client:
            r = await client.post(receiver.url, content=b"{}")
        assert r.status_code == 200
        assert len(receiver.requests) == 1

    async def test_the_client_does_not_follow_redirects_and_times_out_after_5_s(self) -> None:
        async with build_delivery_client(allow_private=True) as client:
            assert client.follow_redirects is False
            assert client.timeout == httpx.Timeout(5.0)

"""The address per-address limits count: the peer's, never a header the client sets, unless the
operator names a trusted proxy (FORWARDED_ALLOW_IPS); an IPv6 address counts as its /64."""

import json

import httpx
import pytest
from django.test import RequestFactory

from arena.clients import client_address
from tests.apiclient import ApiClient
from tests.arena.web_servers import web_with

# A limit of its own (the counters are keyed by the rate too), per hour so no window turns over.
LIMITS = {"battles": "1000/h", "battles_ip": "3/h"}


@pytest.fixture
def web_without_proxy(stack, arena_db):
    with web_with(stack, {"ARENA_LIMITS": json.dumps(LIMITS)}, unset=("FORWARDED_ALLOW_IPS",)) as url:
        yield url


@pytest.fixture
def web_behind_proxy(stack, arena_db):
    with web_with(stack, {"ARENA_LIMITS": json.dumps({**LIMITS, "battles_ip": "2/h"}),
                          "FORWARDED_ALLOW_IPS": "127.0.0.1"}) as url:
        yield url


def start_battle(web: str, forwarded_for: str) -> httpx.Response:
    """A battle from a fresh browser (new cookies) claiming another address each time."""
    with httpx.Client(base_url=web, timeout=30, headers={"X-Forwarded-For": forwarded_for}) as http:
        return ApiClient(http).post("/api/battles", {"prompt": "hello"})


def test_a_spoofed_forwarded_for_does_not_change_the_address(web_without_proxy):
    answers = [start_battle(web_without_proxy, f"203.0.113.{i}").status_code for i in range(5)]
    assert 429 not in answers[:3]  # (no model is configured: 503, which still counts)
    assert answers[3:] == [429, 429]


def test_a_trusted_proxy_forwards_the_real_address(web_behind_proxy):
    answers = [start_battle(web_behind_proxy, "198.51.100.7").status_code for _ in range(3)]
    assert answers[2] == 429 and 429 not in answers[:2]
    assert start_battle(web_behind_proxy, "198.51.100.8").status_code != 429  # another person behind the proxy


@pytest.mark.parametrize(("peer", "counted_as"), [
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
    ("::ffff:192.0.2.5", "192.0.2.5"),
    ("192.0.2.5", "192.0.2.5"),
])
def test_an_ipv6_address_counts_as_its_64(peer, counted_as):
    request = RequestFactory().get("/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR="10.0.0.1")
    assert client_address(request) == counted_as

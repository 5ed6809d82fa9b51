"""A vote keeps what links it to the same voter's other votes (for the rigging tests), and never the
address itself: a keyed hash of the voter's address, of the address its cookie was issued to, and when."""

import httpx

from arena.models import Vote
from tests.apiclient import ApiClient


def vote_once(api: ApiClient) -> Vote:
    battle_id = api.start("Say something kind.")
    api.wait_finished(battle_id)
    assert api.post(f"/api/battles/{battle_id}/vote", {"choice": "a"}).status_code == 200
    return Vote.objects.get(battle__uuid=battle_id)


def test_a_vote_keeps_its_voter_s_address_and_cookie_lineage_as_keyed_hashes(api, endpoints, web):
    first = vote_once(api)
    assert len(first.address_key) == 32 and first.cookie_origin == first.address_key
    assert first.cookie_issued_at is not None and first.cookie_issued_at <= first.created_at
    assert "127.0.0.1" not in (first.address_key + first.cookie_origin)

    with httpx.Client(base_url=web, timeout=30, headers={"X-Forwarded-For": "198.51.100.7"}) as http:
        other = vote_once(ApiClient(http))  # a fresh cookie and a made-up header
    assert other.client_id != first.client_id
    assert other.address_key == first.address_key  # the same address: one actor for the rigging tests

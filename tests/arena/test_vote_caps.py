"""Daily caps on counted votes, per browser and per address: a vote over a cap is kept, is not
counted, says why, and the leaderboard lists it among the votes kept but not counted."""

import httpx
import pytest

from arena.models import Vote
from arena.redis_client import get_redis
from ratings.presenters import leaderboard_json
from ratings.snapshots import recompute
from tests.apiclient import ApiClient
from tests.arena.web_servers import web_with


@pytest.fixture
def capped_web(stack, supervised_worker, endpoints):
    supervised_worker.ensure()
    for key in get_redis().scan_iter("arena:counted-votes:*"):  # today's counts of the session's other tests
        get_redis().delete(key)
    with web_with(stack, {"ARENA_COUNTED_VOTES_PER_CLIENT_DAY": "1", "ARENA_COUNTED_VOTES_PER_ADDRESS_DAY": "2"},
                  unset=("FORWARDED_ALLOW_IPS",)) as url:
        yield url


def vote_in_new_battle(api: ApiClient) -> dict:
    battle_id = api.start("Say something kind.")
    api.wait_finished(battle_id)
    response = api.post(f"/api/battles/{battle_id}/vote", {"choice": "a"})
    assert response.status_code == 200, response.text
    return response.json()["vote"]


def test_votes_over_the_daily_caps_are_kept_but_not_counted(capped_web):
    with (httpx.Client(base_url=capped_web, timeout=30) as first,
          httpx.Client(base_url=capped_web, timeout=30) as second):
        browser, other = ApiClient(first), ApiClient(second)
        assert vote_in_new_battle(browser)["counts"] is True
        over_browser = vote_in_new_battle(browser)
        assert over_browser["counts"] is False
        assert "cap of 1 counted votes from this browser" in over_browser["excluded_reason"]
        assert vote_in_new_battle(other)["counts"] is True  # another browser, the address's second
    with httpx.Client(base_url=capped_web, timeout=30, headers={"X-Forwarded-For": "198.51.100.1"}) as third:
        over_address = vote_in_new_battle(ApiClient(third))  # a fresh cookie and a made-up header do not help
    assert over_address["counts"] is False
    assert "cap of 2 counted votes from this address" in over_address["excluded_reason"]

    assert Vote.objects.count() == 4 and Vote.objects.filter(counts=True).count() == 2
    recompute()
    excluded = leaderboard_json()["excluded"]
    assert sum(n for reason, n in excluded.items() if "counted votes from" in reason) == 2


def test_the_battle_says_before_the_vote_that_it_is_over_the_cap(capped_web):
    with httpx.Client(base_url=capped_web, timeout=30) as http:
        browser = ApiClient(http)
        battle_id = browser.start("Say something kind.")
        before = browser.wait_finished(battle_id)["voting"]
        assert before == {"open": True, "counts": True, "reason": ""}
        browser.post(f"/api/battles/{battle_id}/vote", {"choice": "a", "proof": browser.proof(battle_id)})

        battle_id = browser.start("Say something kind.")
        voting = browser.wait_finished(battle_id)["voting"]
        assert voting["open"] is True and voting["counts"] is False
        assert "cap of 1 counted votes from this browser" in voting["reason"]
        counter = next(get_redis().scan_iter("arena:counted-votes:client:*"))
        assert int(get_redis().get(counter)) == 1  # reading the battle took none
        assert vote_in_new_battle(browser)["counts"] is False

"""An anonymous vote counts only with the battle's proof of work, solved as the page solves it."""

import uuid

import pytest

from arena import proof_of_work
from arena.proof_of_work import challenge_for, is_valid, solve


def vote(api, battle_id: str, proof: str | None) -> dict:
    body = {"choice": "a"} if proof is None else {"choice": "a", "proof": proof}
    response = api.post(f"/api/battles/{battle_id}/vote", body)
    assert response.status_code == 200, response.text
    return response.json()["vote"]


def test_a_vote_counts_only_with_its_own_battles_proof(api, endpoints):
    first, second, third = (api.start(f"Question {i}") for i in range(3))
    for battle_id in (first, second, third):
        api.wait_finished(battle_id)
    challenge = api.battle(first)["proof_of_work"]
    assert challenge["bits"] == 14 and challenge["challenge"].startswith(first)

    without = vote(api, first, "")
    assert without["counts"] is False and "proof of work" in without["excluded_reason"]
    assert "proof_of_work" not in api.battle(first)  # nothing left to solve once voted
    borrowed = vote(api, second, solve(challenge["challenge"], challenge["bits"]))
    assert borrowed["counts"] is False
    assert vote(api, third, None)["counts"] is True  # the client solves it, as the page does


def test_a_proof_is_checked_for_battle_expiry_mac_and_work(settings):
    settings.ARENA = {**settings.ARENA, "VOTE_PROOF_BITS": 8}
    battle = uuid.uuid4()
    now = 1_800_000_000
    challenge = challenge_for(battle, now=now)
    assert challenge == challenge_for(battle, now=now + 3600)  # a polling page keeps one challenge
    proof = solve(challenge["challenge"], 8)
    assert is_valid(proof, battle, now=now)
    assert not is_valid(proof, uuid.uuid4(), now=now)
    assert not is_valid(proof, battle, now=now + 3 * 24 * 3600)
    body, expires, mac, nonce = proof.split(".")
    assert not is_valid(f"{body}.{int(expires) + 86400}.{mac}.{nonce}", battle, now=now)
    unsolved = next(f"{challenge['challenge']}.{n}" for n in range(1000)
                    if proof_of_work.leading_zero_bits(f"{challenge['challenge']}.{n}") < 8)
    assert not is_valid(unsolved, battle, now=now)
    assert not is_valid("", battle, now=now) and not is_valid("a.b.c.d", battle, now=now)


@pytest.mark.parametrize("bits", [0])
def test_no_proof_is_asked_when_it_is_off(settings, bits):
    settings.ARENA = {**settings.ARENA, "VOTE_PROOF_BITS": bits}
    assert challenge_for(uuid.uuid4()) is None and is_valid("", uuid.uuid4())

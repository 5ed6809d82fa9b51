"""The arena's battles in the public LMSYS format (model_a, model_b, winner, conversations, ...)."""

from collections.abc import Iterator

from arena.models import Mode, Vote
from ratings.battle_arrays import CHOICE_CODE, WINNER_NAMES


def arena_battle_records(*, include_excluded: bool = False) -> Iterator[dict]:
    votes = Vote.objects.select_related("battle__endpoint_a", "battle__endpoint_b").order_by("created_at")
    if not include_excluded:
        votes = votes.filter(counts=True)
    votes = votes.exclude(battle__mode=Mode.DIRECT).prefetch_related("battle__turns__messages")
    for vote in votes.iterator(chunk_size=500):
        battle = vote.battle
        conversations = {"a": [], "b": []}
        for turn in sorted(battle.turns.all(), key=lambda t: t.index):
            for message in turn.messages.all():
                conversations[message.side] += [{"role": "user", "content": turn.prompt},
                                                {"role": "assistant", "content": message.text}]
        record = {
            "question_id": str(battle.uuid), "model_a": battle.endpoint_a.public_name,
            "model_b": battle.endpoint_b.public_name, "winner": WINNER_NAMES[CHOICE_CODE[vote.choice]],
            "conversation_a": conversations["a"], "conversation_b": conversations["b"],
            "turn": len(conversations["a"]) // 2, "anony": battle.mode == Mode.ANONYMOUS,
            "language": vote.features.get("language", "unknown"), "tstamp": vote.created_at.timestamp(),
        }
        if include_excluded:
            record["counts"], record["excluded_reason"] = vote.counts, vote.excluded_reason
        yield record

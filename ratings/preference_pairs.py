"""Preference pairs from the arena's own votes, for the reward model of the search verifier:
each decisive, counted anonymous vote gives (prompt, preferred answer, rejected answer)."""

from collections.abc import Iterator

from arena.models import Message
from ratings.queries import counted_votes

CHUNK = 1000


def preference_pairs(*, limit: int | None = None) -> Iterator[tuple[str, str, str]]:
    votes = counted_votes().filter(choice__in=["a", "b"], battle__mode="anony").order_by("id").values_list(
        "battle_id", "choice")
    votes = list(votes[:limit] if limit else votes)
    for start in range(0, len(votes), CHUNK):
        chunk = votes[start:start + CHUNK]
        first_turns: dict[int, dict] = {}
        rows = Message.objects.filter(turn__battle_id__in=[b for b, _ in chunk], turn__index=0).values_list(
            "turn__battle_id", "side", "text", "turn__prompt")
        for battle_id, side, text, prompt in rows:
            first_turns.setdefault(battle_id, {"prompt": prompt})[side] = text
        for battle_id, choice in chunk:
            turn = first_turns.get(battle_id, {})
            if "a" in turn and "b" in turn:
                other = "b" if choice == "a" else "a"
                yield turn["prompt"], turn[choice], turn[other]

"""A visitor's own battles ("Your battles"): listed newest first, read, deleted.

Deleting hides a battle: from its owner's history, from its share page and from the model pages. It
never removes the battle, its answers or its vote. Votes are append-only and the ratings are derived
from them, so a deletion cannot change the leaderboard after the fact, and a script cannot vote,
look at the result and then withdraw the votes it dislikes, nor erase the record staff review for
improbable voters. The owner's view of it is gone; the data behind the published numbers stays.
"""

from dataclasses import dataclass
from uuid import UUID

from django.utils import timezone

from arena import battles
from arena.errors import NotFound
from arena.models import Battle, Message, Turn

HISTORY_LIMIT = 100


@dataclass(frozen=True)
class HistoryEntry:
    battle: Battle
    prompt: str  # the first turn's
    turns: int


def history_of(*, client_id: str, limit: int = HISTORY_LIMIT) -> list[HistoryEntry]:
    """This browser's battles, newest first, with their first prompts: two queries in all."""
    rows = list(Battle.objects.in_history_of(client_id=client_id).select_related("endpoint_a", "endpoint_b", "vote")
                .order_by("-created_at")[:limit])
    prompts, counts = {}, {}
    for battle_id, index, prompt in (Turn.objects.filter(battle__in=rows)
                                     .values_list("battle_id", "index", "prompt")):
        counts[battle_id] = counts.get(battle_id, 0) + 1
        if index == 0:
            prompts[battle_id] = prompt
    return [HistoryEntry(b, prompts.get(b.id, ""), counts.get(b.id, 0)) for b in rows]


def owned_battle(*, battle_id: UUID, client_id: str) -> Battle:
    """One battle of this browser's history. Another browser's battle, or one deleted, is "not
    found" rather than "forbidden", so the answer never says that a battle exists."""
    battle = (Battle.objects.in_history_of(client_id=client_id).select_related("endpoint_a", "endpoint_b", "vote")
              .filter(uuid=battle_id).first())
    if battle is None:
        raise NotFound("None of your battles has this id.")
    return battle


def delete_from_history(*, battle_id: UUID, client_id: str) -> None:
    battle = owned_battle(battle_id=battle_id, client_id=client_id)
    if Message.objects.filter(turn__battle=battle).active().exists():
        battles.stop(battle=battle, client_id=client_id)  # nothing keeps writing what nobody will read
    Battle.objects.filter(pk=battle.pk, hidden_at__isnull=True).update(hidden_at=timezone.now())

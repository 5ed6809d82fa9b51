"""What a model's public page says about its answers and battles.

While a model runs under a codename the page says nothing of what it is: no tokens or time per
answer and no search compute (a search contestant spends ten times a plain model's tokens and time,
which names its kind as surely as its backend would). Callers check ``identity_published``."""

from dataclasses import dataclass

from django.db.models import Avg, Count, FloatField, IntegerField, Q
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from arena.models import Battle, Message, Mode, ModelEndpoint, Status, Turn

RECENT_BATTLES = 10


def endpoint_by_public_name(name: str) -> ModelEndpoint | None:
    """The model a public name shows: a published model by its name, a codenamed one by its codename
    only, so that asking for a codenamed model's real name finds nothing."""
    published = Q(name=name) & (Q(name_published=True) | Q(codename=""))
    codenamed = Q(codename=name, name_published=False) & ~Q(codename="")
    return ModelEndpoint.objects.filter(published | codenamed).first()


def _answers_of(endpoint: ModelEndpoint):
    """Its finished answers generated here (imported battles carry no timings)."""
    return Message.objects.filter(Q(side="a", turn__battle__endpoint_a=endpoint)
                                  | Q(side="b", turn__battle__endpoint_b=endpoint), status=Status.DONE,
                                  duration_ms__isnull=False)


@dataclass(frozen=True)
class AnswerStats:
    answers: int
    tokens: float | None
    seconds: float | None
    ttft_ms: float | None
    # search contestants: means per answer over the answers that record their compute
    candidates: float | None = None
    generated_tokens: float | None = None
    search_seconds: float | None = None


def answer_stats(endpoint: ModelEndpoint) -> AnswerStats:
    """Means over the model's finished answers, in one query."""
    def number(key):
        return Cast(KT(f"compute__{key}"), FloatField())
    row = _answers_of(endpoint).aggregate(
        answers=Count("id"), tokens=Avg("tokens"), ms=Avg("duration_ms"), ttft=Avg("ttft_ms"),
        candidates=Avg(number("candidates")), generated=Avg(Cast(KT("compute__generated_tokens"), IntegerField())),
        wall=Avg(number("wall_s")))
    return AnswerStats(answers=row["answers"], tokens=row["tokens"],
                       seconds=row["ms"] / 1000 if row["ms"] is not None else None, ttft_ms=row["ttft"],
                       candidates=row["candidates"], generated_tokens=row["generated"], search_seconds=row["wall"])


@dataclass(frozen=True)
class PublishedBattle:
    battle: Battle
    prompt: str
    opponent: str
    won: bool | None  # None: a tie, or both bad


def recent_published_battles(endpoint: ModelEndpoint, *, limit: int = RECENT_BATTLES) -> list[PublishedBattle]:
    """The model's latest voted blind battles whose vote counts: those the ratings publish, and whose
    share page is public. Named and direct chats, and battles their owner deleted, are left out."""
    battles = list(Battle.objects.visible().filter(Q(endpoint_a=endpoint) | Q(endpoint_b=endpoint),
                                                   mode=Mode.ANONYMOUS, vote__counts=True)
                   .select_related("endpoint_a", "endpoint_b", "vote").order_by("-created_at")[:limit])
    prompts = dict(Turn.objects.filter(battle__in=battles, index=0).values_list("battle_id", "prompt"))
    found = []
    for battle in battles:
        side = "a" if battle.endpoint_a_id == endpoint.id else "b"
        other = battle.endpoint_for("b" if side == "a" else "a")
        choice = battle.vote.choice
        found.append(PublishedBattle(battle, prompts.get(battle.id, ""), other.public_name,
                                     choice == side if choice in ("a", "b") else None))
    return found

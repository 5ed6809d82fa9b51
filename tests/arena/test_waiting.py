"""What the battle says while its answers are awaited: the queue ahead, from the rows no worker
has claimed, and one estimate for the pair, drawn from the models' recent answers."""

from datetime import timedelta

from django.utils import timezone

from arena.models import Battle, Message, Mode, ModelEndpoint, Status, Turn
from arena.presenters import battle_json
from arena.waiting import ahead_in_queue, typical_seconds


def test_the_typical_time_is_the_median_rounded_up_and_needs_three_answers():
    assert typical_seconds([]) is None
    assert typical_seconds([5.0, 9.0]) is None
    assert typical_seconds([10.0, 12.2, 14.0]) == 13
    assert typical_seconds([0.1, 0.2, 0.3]) == 1
    assert typical_seconds([1.0, 2.0, 3.0, 100.0]) == 3  # one slow answer does not move it


def endpoint(name: str, queue: str) -> ModelEndpoint:
    return ModelEndpoint.objects.create(name=name, organisation="Org", backend="openai", queue=queue,
                                        params={"base_url": "http://127.0.0.1:9/v1", "model": name})


def battle_between(a: ModelEndpoint, b: ModelEndpoint, *, client_id: str = "me", queued_ago: float = 0,
                   status: str = Status.PENDING) -> Battle:
    battle = Battle.objects.create(mode=Mode.ANONYMOUS, endpoint_a=a, endpoint_b=b, client_id=client_id)
    turn = Turn.objects.create(battle=battle, index=0, prompt="Hello")
    for side in "ab":
        Message.objects.create(turn=turn, side=side, status=status,
                               queued_at=timezone.now() - timedelta(seconds=queued_ago))
    return battle


def test_it_counts_the_unclaimed_answers_queued_before_this_one_on_the_same_queue(arena_db):
    busy, idle = endpoint("busy", "q-busy"), endpoint("idle", "q-idle")
    other = endpoint("neighbour", "q-busy")  # another model served by the same worker queue
    for ago in (30, 20):
        battle_between(other, idle, client_id="someone", queued_ago=ago)
    battle_between(busy, idle, client_id="someone", queued_ago=25, status=Status.STREAMING)  # claimed: not ahead
    battle_between(busy, idle, client_id="later", queued_ago=0)  # after ours: not ahead
    mine = battle_between(busy, idle, queued_ago=10)
    a, b = (mine.turns.get().messages.get(side=s) for s in "ab")
    assert ahead_in_queue(a, "q-busy") == 2
    assert ahead_in_queue(b, "q-idle") == 2  # the idle queue has the neighbours' B sides ahead

    shown = battle_json(Battle.objects.select_related("endpoint_a", "endpoint_b").get(pk=mine.pk), client_id="me")
    assert shown["waiting"] == {"queue_ahead": 2, "estimate_s": None}  # one figure for the pair, no sides
    assert battle_json(mine, client_id="someone else")["waiting"] is None  # only the battle's own voter


def past_answers(a: ModelEndpoint, b: ModelEndpoint, *, mode: str, seconds: float, count: int = 3) -> None:
    now = timezone.now()
    for _ in range(count):
        battle = Battle.objects.create(mode=mode, endpoint_a=a, endpoint_b=b, client_id="earlier",
                                       arena_id="text" if mode == Mode.ANONYMOUS else None)
        turn = Turn.objects.create(battle=battle, index=0, prompt="Hi")
        for side in "ab":
            Message.objects.create(turn=turn, side=side, status=Status.DONE, text="Hi.", started_at=now,
                                   queued_at=now - timedelta(seconds=seconds), finished_at=now)


def test_a_named_pair_is_given_the_slower_model_s_time(arena_db):
    fast, slow, other = endpoint("fast", "q1"), endpoint("slow", "q2"), endpoint("other", "q3")
    past_answers(fast, other, mode=Mode.NAMED, seconds=4)
    past_answers(slow, other, mode=Mode.NAMED, seconds=40)
    mine = battle_between(fast, slow)
    Battle.objects.filter(pk=mine.pk).update(mode=Mode.NAMED)
    mine.refresh_from_db()
    assert battle_json(mine, client_id="me")["waiting"] == {"queue_ahead": 0, "estimate_s": 40}
    Message.objects.filter(turn__battle=mine).update(status=Status.DONE, text="Done.", finished_at=timezone.now())
    assert battle_json(mine, client_id="me")["waiting"] is None


def test_a_blind_battle_is_given_the_arena_s_time_whichever_models_it_drew(arena_db):
    fast, slow, other = endpoint("fast", "q1"), endpoint("slow", "q2"), endpoint("other", "q3")
    past_answers(slow, other, mode=Mode.ANONYMOUS, seconds=40, count=2)  # 4 answers of 40 s
    past_answers(fast, other, mode=Mode.ANONYMOUS, seconds=4, count=1)  # 2 of 4 s
    past_answers(fast, slow, mode=Mode.NAMED, seconds=900)  # named battles are not the arena's
    estimates = {battle_json(battle_between(*pair), client_id="me")["waiting"]["estimate_s"]
                 for pair in ((fast, other), (slow, other), (fast, slow))}
    assert estimates == {40}  # the median of the arena's six; the same for every pair

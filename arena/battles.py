"""Everything that changes a battle: validate, then write, then enqueue after commit."""

import random
from dataclasses import asdict

import redis.exceptions
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from arena import events, proof_of_work
from arena.clients import VoterIdentity
from arena.codepoints import unstorable
from arena.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge, Unavailable
from arena.identity import find_identity_leak
from arena.limits import counted_vote_cap_reached, give_back_counted_vote, take_counted_vote
from arena.models import ACTIVE_STATUSES, DEFAULT_ARENA, Arena, Battle, Message, Mode, ModelEndpoint, Status, Turn, Vote
from arena.presentation import all_shown
from arena.sampling import choose_active_pair, choose_pair
from arena.votes import insert_vote, typed_columns
from ratings.features import battle_features
from ratings.snapshots import latest
from ratings.tasks import schedule_recompute
from workers.heartbeat import live_instances, live_queues
from workers.tasks import generate_message, recover_orphaned

_rng = random.SystemRandom()
EMPTY_ANSWERS = "Both answers are empty, so there is nothing to judge; regenerate them or ask again."


def clean_prompt(prompt: str) -> str:
    limit = settings.ARENA["MAX_PROMPT_CHARS"]
    if len(prompt) > limit:
        raise TooLarge(f"The prompt is {len(prompt)} characters long; the limit is {limit}.")
    bad = unstorable(prompt)
    if bad == "U+0000":
        raise Invalid("The prompt contains a NUL character.")
    if bad:
        raise Invalid(f"The prompt contains {bad}, a lone surrogate, which is not a character; "
                      "send the text as valid Unicode.")
    if not prompt.strip():
        raise Invalid("The prompt is empty; type a question or instruction.")
    return prompt


def available_endpoints(*, named: bool = False, arena: str | None = None) -> list[ModelEndpoint]:
    """Enabled endpoints with a live worker: those of named modes, or those of one arena."""
    endpoints = ModelEndpoint.objects.enabled().on_queues(live_queues())
    if named:
        endpoints = endpoints.for_named_modes()
    if arena is not None:
        endpoints = endpoints.in_arena(arena)
    return list(endpoints)


def get_arena(slug: str) -> Arena:
    try:
        return Arena.objects.get(slug=slug)
    except Arena.DoesNotExist:
        known = ", ".join(Arena.objects.values_list("slug", flat=True)) or "none"
        raise Invalid(f"Unknown arena {slug[:50]!r}; the arenas are: {known}.") from None


def _active_pair(candidates: list[ModelEndpoint], arena: str = DEFAULT_ARENA):
    """A pair by active sampling, from the arena's stored state (its own votes' intervals)."""
    snapshot = latest("overall", arena=arena)
    if snapshot is None or "sampling" not in snapshot.data:
        return None
    return choose_active_pair(candidates, [e.id for e in candidates], [e.sampling_weight for e in candidates],
                              snapshot.data["sampling"], _rng)


def _pick_named(names: list[str], count: int) -> list[ModelEndpoint]:
    if len(names) != count:
        raise Invalid(f"This mode needs exactly {count} model name(s) in \"models\", got {len(names)}.")
    if len(set(names)) != len(names):
        raise Invalid("Pick two different models.")
    by_name = {e.public_name: e for e in ModelEndpoint.objects.enabled().for_named_modes()}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise Invalid(f"Unknown model: {unknown[0][:100]!r}. GET /api/models lists the available ones.")
    live = {e.id for e in available_endpoints(named=True)}
    down = [n for n in names if by_name[n].id not in live]
    if down:
        raise Unavailable(f"{down[0]} has no running worker right now; try again later.")
    return [by_name[n] for n in names]


def start_battle(*, prompt: str, mode: str, models: list[str] | None, client_id: str,
                 arena: str | None = None, user: AbstractBaseUser | None = None) -> Battle:
    """``arena``: the slug of the arena an anonymous battle is drawn in (default: text); named and
    direct battles take their models by name and are drawn in no arena. ``user``: the signed-in
    person starting it, if any."""
    prompt = clean_prompt(prompt)
    drawn_in = None
    if mode == Mode.ANONYMOUS:
        if models:
            raise Invalid("Anonymous battles choose their models themselves; leave \"models\" out.")
        drawn_in = get_arena(arena or DEFAULT_ARENA)
        candidates = available_endpoints(arena=drawn_in.slug)
        pair = _active_pair(candidates, drawn_in.slug) if settings.ARENA["ACTIVE_SAMPLING"] else None
        pair = pair or choose_pair(candidates, [e.sampling_weight for e in candidates], _rng)
        if pair is None:
            raise Unavailable(f"Fewer than two models of the {drawn_in.title} arena are available right now, "
                              "so no battle can start. Try again in a minute.")
        endpoint_a, endpoint_b = pair
    elif arena is not None:
        raise Invalid("Only anonymous battles are drawn in an arena; leave \"arena\" out.")
    elif mode == Mode.NAMED:
        endpoint_a, endpoint_b = _pick_named(models or [], 2)
    elif mode == Mode.DIRECT:
        (endpoint_a,), endpoint_b = _pick_named(models or [], 1), None
    else:
        raise Invalid(f"Unknown mode {mode!r}; use anony, named or direct.")

    with transaction.atomic():
        battle = Battle.objects.create(mode=mode, arena=drawn_in, endpoint_a=endpoint_a, endpoint_b=endpoint_b,
                                       client_id=client_id, user=user)
        _create_turn(battle, 0, prompt)
    return battle


def _create_turn(battle: Battle, index: int, prompt: str) -> Turn:
    turn = Turn.objects.create(battle=battle, index=index, prompt=prompt)
    for side in battle.sides:
        message = Message.objects.create(turn=turn, side=side)
        _enqueue(message, battle.endpoint_for(side))
    return turn


def _enqueue(message: Message, endpoint: ModelEndpoint) -> None:
    message_id, attempt, queue = message.id, message.attempt, endpoint.queue
    transaction.on_commit(lambda: generate_message.apply_async((message_id, attempt), queue=queue))


def _own_undecided(battle: Battle, client_id: str) -> None:
    if battle.client_id != client_id:
        raise Forbidden("This battle belongs to another session.")
    if Vote.objects.filter(battle=battle).exists():
        raise Conflict("This battle has been voted on and is closed; start a new round.")


def _last_turn_messages(battle: Battle) -> list[Message]:
    return list(Message.objects.filter(turn__battle=battle).order_by("-turn__index", "side")[: len(battle.sides)])


def add_turn(*, battle: Battle, prompt: str, client_id: str) -> Turn:
    prompt = clean_prompt(prompt)
    with transaction.atomic():
        battle = Battle.objects.select_for_update().get(pk=battle.pk)
        _own_undecided(battle, client_id)
        last = _last_turn_messages(battle)
        if any(m.status in ACTIVE_STATUSES for m in last):
            raise Conflict("Wait for both answers to finish, or stop them, before asking a follow-up.")
        if any(m.status == Status.FAILED for m in last):
            raise Conflict("An answer failed; regenerate it before asking a follow-up.")
        count = battle.turns.count()
        if count >= settings.ARENA["MAX_TURNS"]:
            raise Invalid(f"A battle has at most {settings.ARENA['MAX_TURNS']} turns; vote and start a new round.")
        turn = _create_turn(battle, count, prompt)
        Battle.objects.filter(pk=battle.pk).update(updated_at=timezone.now())
    return turn


def regenerate(*, battle: Battle, client_id: str) -> None:
    """Answer the last turn again on every side, as a fresh attempt."""
    with transaction.atomic():
        battle = Battle.objects.select_for_update().get(pk=battle.pk)
        _own_undecided(battle, client_id)
        last = _last_turn_messages(battle)
        if any(m.status in ACTIVE_STATUSES for m in last):
            raise Conflict("Wait for the answers to finish, or stop them, before regenerating.")
        for message in last:
            Message.objects.filter(pk=message.pk).update(
                attempt=F("attempt") + 1, status=Status.PENDING, text="", tokens=0, ttft_ms=None,
                duration_ms=None, error="", compute={}, finish_reason="", worker="", started_at=None, finished_at=None,
                identity_leak=None, style_counts=None, citations=[], queued_at=timezone.now())
            message.refresh_from_db(fields=["attempt"])
            _enqueue(message, battle.endpoint_for(message.side))


def stop(*, battle: Battle, client_id: str) -> None:
    _own_undecided(battle, client_id)
    for message in Message.objects.filter(turn__battle=battle).active().select_related("turn"):
        events.request_stop(message.id, message.attempt)
        # A message no worker has claimed yet stops here; a streaming one stops at its next token.
        if Message.objects.filter(pk=message.pk, attempt=message.attempt, status=Status.PENDING).update(
                status=Status.STOPPED, finished_at=timezone.now()):
            events.publish(battle.stream_key(), events.battle_end(
                turn=message.turn.index, side=message.side, attempt=message.attempt, status=Status.STOPPED))


def notice_dead_workers(battle: Battle, active: list[Message] | None = None) -> list[int]:
    """Deal with this battle's answers whose worker instance died (ask again those with nothing shown,
    fail the others: ``workers.tasks.recover_orphaned``), now rather than at the reaper's next round:
    where one worker also runs the reaper, a killed worker reaps nothing until it is back.
    ``active``: the battle's unfinished messages with their turns, when the caller has read them.
    Returns the ids failed or asked again (no longer streaming under the attempt read)."""
    if active is None:
        active = list(Message.objects.filter(turn__battle=battle, status=Status.STREAMING).select_related("turn"))
    streaming = [m for m in active if m.status == Status.STREAMING]
    if not streaming:
        return []
    for message in streaming:
        message.turn.battle = battle
    try:
        instances = live_instances()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        return []  # without Redis no beat can be read: the reaper decides once it is back
    return recover_orphaned(streaming, instances=instances)


def messages_for_vote(battle_id) -> list[Message]:
    """The battle's messages in turn order, each with its turn, battle and endpoints: what a vote
    checks, stores and answers with, in one query. Raises NotFound for an unknown battle."""
    messages = list(Message.objects.filter(turn__battle__uuid=battle_id, turn__battle__hidden_at__isnull=True)
                    .select_related("turn__battle__endpoint_a", "turn__battle__endpoint_b", "turn__battle__arena")
                    .order_by("turn__index", "side"))
    if not messages:  # a battle is created with its first turn's messages
        raise NotFound("No battle has this id.")
    return messages


def lock_battle(battle_id) -> None:
    """Take the battle's row lock for the rest of the transaction. Votes, regenerations and
    follow-ups take it first, so each sees the battle as the one before it left it: a vote never
    lands on answers a regeneration has just replaced."""
    list(Battle.objects.select_for_update().filter(uuid=battle_id).values_list("pk"))


def record_vote(*, battle: Battle, choice: str, client_id: str, messages: list[Message] | None = None,
                attempts: dict[str, int] | None = None, turn: int | None = None, address: str = "",
                proof: str = "", identity: VoterIdentity | None = None,
                user: AbstractBaseUser | None = None) -> Vote:
    """``attempts`` (per side) and ``turn``: the answers the voter saw on the last turn; a vote for answers that are no
    longer the current ones is refused. Left out, the vote judges the answers current when it is counted (a script
    that omits them has read the battle itself). ``messages``: the battle's messages with their turns, in turn
    order, read after this transaction took the battle's lock (``lock_battle``, ``messages_for_vote``). ``address``:
    the voter's (``clients.client_address``), for the daily cap on counted votes per address. ``proof``: the solved
    proof of work of the battle (``proof_of_work``), without which an anonymous vote is kept but not counted (a
    signed-in person's vote needs none: their account is the cost, and their counted votes have a daily cap of their
    own). ``identity``: what links the vote to the voter's others, for the rigging tests
    (``clients.voter_identity``). ``user``: the signed-in voter, if any: the arena's policy refuses or weighs
    anonymous votes (``Arena.anonymous_votes``, ``anonymous_vote_weight``), and a person's counted votes share a
    daily cap whichever browser they come from."""
    if battle.client_id != client_id:
        raise Forbidden("Only the person who started this battle can vote on it.")
    arena = battle.arena if battle.mode == Mode.ANONYMOUS else None
    if arena is not None and user is None and not arena.anonymous_votes:
        raise Forbidden(f"Only signed-in people can vote in the {arena.title} arena: sign in to vote.")
    weight = arena.vote_weight(signed_in=user is not None) if arena is not None else 1.0
    user_id = user.pk if user is not None else None
    with transaction.atomic():
        lock_battle(battle.uuid)
        if messages is None:
            messages = list(Message.objects.filter(turn__battle=battle).select_related("turn")
                            .order_by("turn__index", "side"))
        _check_seen(battle, messages, attempts, turn)
        if any(m.status in ACTIVE_STATUSES for m in messages) or not all_shown(battle, messages):
            raise Conflict("Both answers must finish before you vote.")
        last_turn = max((m.turn.index for m in messages), default=0)
        if any(m.status == Status.FAILED and m.turn.index == last_turn for m in messages):
            raise Conflict("An answer failed; regenerate it before voting.")
        if not any(m.text.strip() for m in messages if m.turn.index == last_turn):
            raise Conflict(EMPTY_ANSWERS)
        counts, reason = _counts_for_ratings(battle, messages)
        if counts and user is None and not proof_of_work.is_valid(proof, battle.uuid):
            counts, reason = False, "The vote came without the page's proof of work, so it does not count."
        if counts and weight == 0:
            counts, reason = False, "Anonymous votes do not count in this arena; sign in for your votes to count."
        if counts:
            reason = take_counted_vote(client_id=client_id, address=address, user_id=user_id)
            counts = not reason
        prompts = list({m.turn.index: m.turn.prompt for m in messages}.values())  # every turn has its messages
        features = battle_features(prompts, messages) if battle.mode != Mode.DIRECT else {}
        vote = Vote(battle=battle, choice=choice, client_id=client_id, user=user, counts=counts, weight=weight,
                    excluded_reason=reason, features=features, **typed_columns(battle, features),
                    **asdict(identity or VoterIdentity()))
        try:
            insert_vote(vote)
        except IntegrityError:
            if counts:
                give_back_counted_vote(client_id=client_id, address=address, user_id=user_id)
            raise Conflict("This battle already has a vote; each battle counts once.") from None
    if counts:
        schedule_recompute()
    return vote


def _check_seen(battle: Battle, messages: list[Message], attempts: dict[str, int] | None, turn: int | None) -> None:
    last_turn = max((m.turn.index for m in messages), default=0)
    if turn is not None and turn != last_turn:
        raise Conflict(f"The battle has moved on to turn {last_turn + 1} since you saw it; "
                       "read the new answers, then vote.")
    if attempts is None:
        return
    current = {m.side: m.attempt for m in messages if m.turn.index == last_turn}
    if set(attempts) != set(current):
        raise Invalid(f"\"attempts\" names the answers you saw: one attempt for each of the sides "
                      f"{', '.join(sorted(current))}.")
    if attempts != current:
        raise Conflict("The answers were regenerated since you saw them; read the new answers, then vote.")


def vote_outlook(*, battle: Battle, messages: list[Message], shown_last: list[dict], client_id: str,
                 address: str) -> dict:
    """Whether a vote may be cast now and whether it would count, said before the vote.
    ``shown_last``: the last turn's answers as the voter is shown them (``message_json``), so that in
    a blind battle nothing is said about an answer the pacer has not shown whole yet. The name an
    identity leak found is left out: the voter sees it in the text, and a model that is not public
    stays unconfirmed."""
    if any(m["status"] in ACTIVE_STATUSES for m in shown_last):
        return {"open": False, "counts": None, "reason": "Voting opens when both answers are complete."}
    if any(m["status"] == Status.FAILED for m in shown_last):
        return {"open": False, "counts": None, "reason": "An answer failed; regenerate it before voting."}
    if not any(m["text"].strip() for m in shown_last):
        return {"open": False, "counts": None, "reason": EMPTY_ANSWERS}
    counts, reason = _counts_for_ratings(battle, messages, name_leak=False)
    if counts:
        reason = counted_vote_cap_reached(client_id=client_id, address=address, user_id=battle.user_id)
        counts = not reason
    return {"open": True, "counts": counts, "reason": reason}


def _counts_for_ratings(battle: Battle, messages: list[Message], *, name_leak: bool = True) -> tuple[bool, str]:
    if battle.mode != Mode.ANONYMOUS:
        return False, "Only anonymous battles count toward the ratings."
    if any(m.status != Status.DONE for m in messages):
        return False, "An answer was stopped or failed, so this battle does not count."
    leak = _identity_leak(messages)
    if leak:
        named = f" ({leak})" if name_leak else ""
        return False, f"An answer names a model or its maker{named}, so the vote cannot be blind and does not count."
    return True, ""


def _identity_leak(messages: list[Message]) -> str | None:
    """The first model or maker the answers name: as the workers found when each answer finished,
    or looked up now for answers stored before workers did that."""
    if any(m.identity_leak is None for m in messages):
        return find_identity_leak([m.text for m in messages], ModelEndpoint.objects.all())
    return next((m.identity_leak for m in messages if m.identity_leak), None)

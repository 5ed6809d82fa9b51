"""What a battle looks like from outside. In an anonymous battle before the vote nothing here
may name a model: no name, no organisation, no endpoint id, no raw backend error."""

import threading
from collections import OrderedDict

from arena import proof_of_work
from arena.battles import vote_outlook
from arena.history import HistoryEntry
from arena.markdown import render_markdown
from arena.models import ACTIVE_STATUSES, Arena, Battle, Message, Mode, ModelEndpoint, Status
from arena.pacing import Shown
from arena.presentation import HIDDEN_BEFORE_VOTE, is_paced, paced_statuses
from arena.waiting import waiting_json

FAILED_TEXT = "This answer failed. Regenerate to try again."
RENDER_CACHE_MIN_CHARS = 4000  # shorter answers render in well under a millisecond
RENDER_CACHE_SIZE = 64


class RenderCache:
    """Rendered answers by (message id, attempt, length), so a long answer costs its markdown
    rendering once per web process rather than on every GET. The key names the text: within an
    attempt an answer only grows, so every text of one length is the same prefix."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[tuple[int, int, int], str] = OrderedDict()
        self.lock = threading.Lock()  # the API's database threads share it

    def html(self, message: Message, text: str) -> str:
        if len(text) < RENDER_CACHE_MIN_CHARS:
            return render_markdown(text)
        key = (message.id, message.attempt, len(text))
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                return self.entries[key]
        html = render_markdown(text)
        with self.lock:
            self.entries[key] = html
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return html


rendered = RenderCache(RENDER_CACHE_SIZE)


def endpoint_json(endpoint: ModelEndpoint) -> dict:
    return {"name": endpoint.public_name, "organisation": endpoint.public_organisation,
            "license": endpoint.license if endpoint.identity_published else "",
            "description": endpoint.description}


def history_json(entry: HistoryEntry) -> dict:
    """One line of "Your battles": the models only where the battle itself would name them."""
    battle = entry.battle
    vote = getattr(battle, "vote", None)  # a missing reverse one-to-one raises AttributeError
    return {"id": str(battle.uuid), "mode": battle.mode, "arena": battle.arena_id,
            "created_at": battle.created_at.isoformat(), "prompt": entry.prompt, "turns": entry.turns,
            "vote": vote.choice if vote is not None else None,
            "models": ({side: battle.endpoint_for(side).public_name for side in battle.sides}
                       if battle.reveals_models() else None)}


def arena_json(arena: Arena, *, live: list[ModelEndpoint]) -> dict:
    """``live``: the endpoints with a running worker; an arena holds battles with two of its own.
    ``anonymous_votes``: whether people who are not signed in may vote; ``anonymous_vote_weight``:
    how much such a vote counts in the ratings (0: kept, not counted; a signed-in person's weighs 1)."""
    models = sum(1 for e in live if arena.slug in e.arenas)
    return {"slug": arena.slug, "title": arena.title, "description": arena.description, "live_models": models,
            "ready": models >= 2, "anonymous_votes": arena.anonymous_votes,
            "anonymous_vote_weight": arena.anonymous_vote_weight}


def message_json(message: Message, *, reveal: bool, blind: bool = False, shown: Shown | None = None) -> dict:
    """``blind``: an anonymous battle before its vote, where nothing may say how an answer was made;
    ``shown``: what the pacer lets the voter see of it (arena/presentation.py)."""
    status, text = (shown.status, shown.text) if shown is not None else (message.status, message.text)
    data = {
        "status": status,
        "text": text,
        "html": rendered.html(message, text),
        "tokens": message.tokens,
        "ttft_ms": message.ttft_ms,
        "duration_ms": message.duration_ms,
        "attempt": message.attempt,
        "error": FAILED_TEXT if status == Status.FAILED else None,
        # the same words on whichever side the common token cap cut short, once it is shown whole
        "cut": status == Status.DONE and message.finish_reason == "length",
        # the sources the text cites as [n], part of the answer: shown with it once it is shown whole
        "citations": message.citations if status not in ACTIVE_STATUSES else [],
    }
    if blind:
        data.update(dict.fromkeys(HIDDEN_BEFORE_VOTE))
    if reveal and message.compute:
        data["compute"] = message.compute
    return data


def battle_json(battle: Battle, *, client_id: str, messages: list[Message] | None = None, address: str = "",
                signed_in: bool = False) -> dict:
    """``messages``: the battle's messages with their turns, when the caller has read them already;
    ``address``: the reader's (``clients.client_address``), to say before the vote whether today's
    cap on counted votes is reached."""
    reveal = battle.reveals_models()
    vote = getattr(battle, "vote", None)  # a missing reverse one-to-one raises AttributeError
    if messages is None:
        messages = list(Message.objects.filter(turn__battle=battle).select_related("turn"))
    blind = battle.mode == Mode.ANONYMOUS and not reveal
    shown = paced_statuses(battle, messages) if is_paced(battle) and messages else {}
    by_turn = {}  # every turn is created with its messages
    for message in messages:
        by_turn.setdefault(message.turn_id, (message.turn, {}))[1][message.side] = message
    turns = []
    for turn, sides in sorted(by_turn.values(), key=lambda entry: entry[0].index):
        entry = {"index": turn.index, "prompt": turn.prompt, "created_at": turn.created_at.isoformat()}
        for side, message in sorted(sides.items()):
            entry[side] = message_json(message, reveal=reveal, blind=blind, shown=shown.get(message.id))
        turns.append(entry)
    data = {
        "id": str(battle.uuid),
        "mode": battle.mode,
        "arena": battle.arena_id,
        "created_at": battle.created_at.isoformat(),
        "yours": battle.client_id == client_id,
        "turns": turns,
        "finished": all(entry[side]["status"] not in ACTIVE_STATUSES for entry in turns for side in battle.sides),
        "vote": None,
        "models": None,
        "waiting": None,
    }
    last = [m for m in messages if turns and m.turn.index == turns[-1]["index"]]
    if data["yours"] and vote is None:
        data["waiting"] = waiting_json(battle, last)
    if reveal:
        data["models"] = {side: battle.endpoint_for(side).public_name for side in battle.sides}
        data["model_details"] = {side: endpoint_json(battle.endpoint_for(side)) for side in battle.sides}
    if vote is not None:
        data["vote"] = {"choice": vote.choice, "counts": vote.counts, "excluded_reason": vote.excluded_reason}
    elif data["yours"] and battle.mode != Mode.DIRECT and turns:
        data["voting"] = vote_outlook(battle=battle, messages=messages, client_id=client_id, address=address,
                                      shown_last=[turns[-1][side] for side in battle.sides])
        if battle.mode == Mode.ANONYMOUS and not signed_in:  # a signed-in person's vote needs no proof
            data["proof_of_work"] = proof_of_work.challenge_for(battle.uuid)
    return data

"""What a battle looks like from outside. In an anonymous battle before the vote nothing here
may name a model: no name, no organisation, no endpoint id, no raw backend error."""

from arena.markdown import render_markdown
from arena.models import Battle, Message, ModelEndpoint, Status

FAILED_TEXT = "This answer failed. Regenerate to try again."


def endpoint_json(endpoint: ModelEndpoint) -> dict:
    return {"name": endpoint.public_name, "organisation": endpoint.public_organisation,
            "license": endpoint.license if endpoint.name_published or not endpoint.codename else "",
            "description": endpoint.description}


def message_json(message: Message, *, reveal: bool) -> dict:
    data = {
        "status": message.status,
        "text": message.text,
        "html": render_markdown(message.text),
        "tokens": message.tokens,
        "ttft_ms": message.ttft_ms,
        "duration_ms": message.duration_ms,
        "attempt": message.attempt,
        "error": FAILED_TEXT if message.status == Status.FAILED else None,
    }
    if reveal and message.compute:
        data["compute"] = message.compute
    return data


def battle_json(battle: Battle, *, client_id: str, messages: list[Message] | None = None) -> dict:
    """``messages``: the battle's messages with their turns, when the caller has read them already."""
    reveal = battle.reveals_models()
    vote = getattr(battle, "vote", None)  # a missing reverse one-to-one raises AttributeError
    if messages is None:
        messages = Message.objects.filter(turn__battle=battle).select_related("turn")
    by_turn = {}  # every turn is created with its messages
    for message in messages:
        by_turn.setdefault(message.turn_id, (message.turn, {}))[1][message.side] = message
    turns = []
    for turn, sides in sorted(by_turn.values(), key=lambda entry: entry[0].index):
        entry = {"index": turn.index, "prompt": turn.prompt}
        for side, message in sorted(sides.items()):
            entry[side] = message_json(message, reveal=reveal)
        turns.append(entry)
    data = {
        "id": str(battle.uuid),
        "mode": battle.mode,
        "created_at": battle.created_at.isoformat(),
        "yours": battle.client_id == client_id,
        "turns": turns,
        "finished": all(m.is_finished() for _, sides in by_turn.values() for m in sides.values()),
        "vote": None,
        "models": None,
    }
    if reveal:
        data["models"] = {side: battle.endpoint_for(side).public_name for side in battle.sides}
        data["model_details"] = {side: endpoint_json(battle.endpoint_for(side)) for side in battle.sides}
    if vote is not None:
        data["vote"] = {"choice": vote.choice, "counts": vote.counts, "excluded_reason": vote.excluded_reason}
    return data

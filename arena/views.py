import random

from django.conf import settings
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, render

from arena.battles import available_endpoints
from arena.clients import client_id
from arena.models import DEFAULT_ARENA, Arena, Battle, ModelEndpoint
from arena.presenters import battle_json, endpoint_json
from arena.suggestions import pick_suggestions

_rng = random.Random()


def _page(request, template: str, **context):
    client_id(request)  # every page starts the session the API calls rely on,
    get_token(request)  # and sets the CSRF cookie their scripts send back
    return render(request, template, context)


def battle_page(request):
    arenas = list(Arena.objects.all())
    arena = next((a for a in arenas if a.slug == request.GET.get("arena", DEFAULT_ARENA)), None)
    arena = arena or next((a for a in arenas if a.slug == DEFAULT_ARENA), None)
    live = len(available_endpoints(arena=arena.slug)) if arena else 0
    return _page(request, "arena/battle.html", mode="anony", ready=live >= 2, arenas=arenas, arena=arena,
                 max_prompt_chars=settings.ARENA["MAX_PROMPT_CHARS"], suggestions=pick_suggestions(_rng))


def named_page(request):
    return _picker_page(request, "named", count=2)


def direct_page(request):
    return _picker_page(request, "direct", count=1)


def _picker_page(request, mode: str, *, count: int):
    choices = _choices()
    names = [e.public_name for e in choices]
    wanted = [name for name in request.GET.getlist("model") if name in names]
    selected = (wanted + [n for n in names if n not in wanted])[:count]
    return _page(request, "arena/battle.html", mode=mode, choices=choices, selected=selected,
                 ready=len(choices) >= count, max_prompt_chars=settings.ARENA["MAX_PROMPT_CHARS"],
                 suggestions=pick_suggestions(_rng))


def _choices() -> list[ModelEndpoint]:
    live = {e.id for e in available_endpoints(named=True)}
    return [e for e in ModelEndpoint.objects.enabled().for_named_modes() if e.id in live]


def models_page(request):
    live = {e.id for e in available_endpoints(named=True)}
    endpoints = [{**endpoint_json(e), "available": e.id in live}
                 for e in ModelEndpoint.objects.enabled().for_named_modes()]
    return _page(request, "arena/models.html", endpoints=endpoints)


def about_page(request):
    return _page(request, "arena/about.html")


def shared_battle_page(request, battle_id):
    battle = get_object_or_404(Battle.objects.select_related("endpoint_a", "endpoint_b", "vote"), uuid=battle_id)
    if not battle.reveals_models():
        return render(request, "arena/shared.html", {"battle": None})
    data = battle_json(battle, client_id=client_id(request))
    sides = _side_summaries(data)
    turns = [{"prompt": turn["prompt"], "answers": [(s, turn[s["key"]]) for s in sides]} for turn in data["turns"]]
    return render(request, "arena/shared.html", {
        "battle": data, "sides": sides, "turns": turns, "has_compute": any(s["compute"] for s in sides)})


def _side_summaries(data: dict) -> list[dict]:
    """What each side spent over the battle, as the battle page's reveal shows it."""
    summaries = []
    for side in ("a", "b") if data["mode"] != "direct" else ("a",):
        messages = [turn[side] for turn in data["turns"] if side in turn]
        tokens = sum(m["tokens"] or 0 for m in messages)
        duration_ms = sum(m["duration_ms"] or 0 for m in messages)
        ttfts = [m["ttft_ms"] for m in messages if m["ttft_ms"] is not None]
        computes = [m["compute"] for m in messages if m.get("compute")]
        summaries.append({
            "key": side,
            "side": side.upper(),
            "name": data["models"][side],
            "organisation": data.get("model_details", {}).get(side, {}).get("organisation", ""),
            "tokens": tokens,
            "ttft_ms": round(sum(ttfts) / len(ttfts)) if ttfts else None,
            "tokens_per_s": tokens / (duration_ms / 1000) if duration_ms else None,
            "compute": {
                "candidates": sum(c.get("candidates", 0) for c in computes),
                "generated_tokens": sum(c.get("generated_tokens", 0) for c in computes),
                "answer_tokens": sum(c.get("answer_tokens", 0) for c in computes),
                "wall_s": sum(c.get("wall_s", 0) for c in computes),
                "strategy": computes[-1].get("strategy", ""),
            } if computes else None,
        })
    return summaries

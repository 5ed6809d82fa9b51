import random

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from arena import history, model_profiles
from arena.accounts import signed_in_user
from arena.battles import available_endpoints
from arena.clients import client_id
from arena.errors import NotFound
from arena.limits import RateLimited, enforce
from arena.models import DEFAULT_ARENA, Arena, Battle, Choice, ModelEndpoint
from arena.presenters import battle_json, endpoint_json, history_json
from arena.suggestions import pick_suggestions
from ratings.presenters import model_standing

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
    battle = get_object_or_404(Battle.objects.visible().select_related("endpoint_a", "endpoint_b", "vote"),
                               uuid=battle_id)
    if not battle.reveals_models():
        return render(request, "arena/shared.html", {"battle": None})
    return render(request, "arena/shared.html", _battle_context(battle_json(battle, client_id=client_id(request))))


def _battle_context(data: dict) -> dict:
    """A battle read as a page: its turns side by side and, once revealed, what each side spent."""
    sides = _side_summaries(data)
    turns = [{"prompt": turn["prompt"], "answers": [(s, turn[s["key"]]) for s in sides]} for turn in data["turns"]]
    return {"battle": data, "sides": sides, "turns": turns, "has_compute": any(s["compute"] for s in sides)}


def history_page(request):
    entries = []
    for entry in history.history_of(client_id=client_id(request)):
        data = history_json(entry)
        entries.append({**data, "created": entry.battle.created_at,
                        "vote_label": Choice(data["vote"]).label if data["vote"] else ""})
    return _page(request, "arena/history.html", entries=entries)


def history_battle_page(request, battle_id):
    try:
        battle = history.owned_battle(battle_id=battle_id, client_id=client_id(request))
    except NotFound:
        raise Http404("None of your battles has this id.") from None
    context = _battle_context(battle_json(battle, client_id=client_id(request),
                                          signed_in=signed_in_user(request) is not None))
    return _page(request, "arena/history_battle.html", created=battle.created_at, **context)


@require_POST
def delete_from_history_page(request, battle_id):
    try:
        enforce(request, "deletions", client_id=client_id(request))
        history.delete_from_history(battle_id=battle_id, client_id=client_id(request))
    except RateLimited as exc:
        messages.error(request, exc.message)
    except NotFound:
        raise Http404("None of your battles has this id.") from None
    else:
        messages.success(request, "The battle was deleted from your history. If you voted, the vote still counts.")
    return redirect("history")


def model_page(request, name: str):
    endpoint = model_profiles.endpoint_by_public_name(name)
    if endpoint is None:
        raise Http404("No model has this name.")
    published = endpoint.identity_published
    arenas = {a.slug: a.title for a in Arena.objects.filter(slug__in=endpoint.arenas)}
    return _page(request, "arena/model.html", model=endpoint_json(endpoint), published=published,
                 backend=endpoint.get_backend_display() if published else "",
                 is_search=published and endpoint.backend == "search", arenas=arenas,
                 standing=model_standing(endpoint.public_name, arenas=[a for a in endpoint.arenas if a in arenas]),
                 stats=model_profiles.answer_stats(endpoint) if published else None,
                 battles=model_profiles.recent_published_battles(endpoint))


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
            "name": data["models"][side] if data["models"] else "",
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

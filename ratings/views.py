from dataclasses import replace

from django.conf import settings
from django.shortcuts import render

from arena.errors import Invalid, NotFound
from arena.models import DEFAULT_ARENA, Arena, ModelEndpoint
from ratings.history import daily_history
from ratings.models import PromptHeadFit
from ratings.presenters import CATEGORY_LABELS, STYLE_ELEMENTS, BoardQuery, in_words, leaderboard_json
from ratings.prompt_heads import board_for_category


def leaderboard_page(request):
    arenas = list(Arena.objects.all())
    error, status = "", 200
    try:
        query = BoardQuery.from_params(request.GET)
    except Invalid as exc:  # the page still shows the latest table, with the sentence above it
        error, status = exc.message, 400
        query = BoardQuery(arena=request.GET.get("arena") or DEFAULT_ARENA)
    arena = next((a for a in arenas if a.slug == query.arena), None)
    arena = arena or next((a for a in arenas if a.slug == DEFAULT_ARENA), None)
    if arena is not None and arena.slug != query.arena:
        query = replace(query, arena=arena.slug)
    board = leaderboard_json(**query.board_arguments())
    history = daily_history(query.category, arena=query.arena, until=query.moment("at"))
    if not query.show_deprecated:
        for endpoint in ModelEndpoint.objects.filter(retired=True):
            history["models"].pop(endpoint.public_name, None)
    return render(request, "ratings/leaderboard.html", {
        "p2l_category": _p2l_category(query),
        "board": board, "history": history, "query": query, "error": error, "arenas": arenas, "arena": arena,
        "words": {name: in_words(query.moment(name)) for name in ("at", "since") if getattr(query, name)},
        "category": query.category, "min_votes": board["min_votes"], "style_elements": STYLE_ELEMENTS,
        "prompt_head": PromptHeadFit.objects.newest(query.arena), "p2l_min_votes": settings.ARENA["P2L_MIN_VOTES"],
        "category_tabs": [(key, label, query.params(category=key)) for key, label in CATEGORY_LABELS.items()],
        "arena_tabs": [(a, query.params(arena=a.slug)) for a in arenas],
        "json_url": f"/api/leaderboard?{query.params()}",
        "csv_url": "/api/leaderboard?" + "&".join(filter(None, [query.params(), "format=csv"])),
    }, status=status)


def _p2l_category(query: BoardQuery) -> dict | None:
    """The published head's view of the category shown now (stored numbers: nothing is computed)."""
    if query.category == "overall" or query.at is not None:
        return None
    try:
        return board_for_category(query.category, arena=query.arena)
    except NotFound:
        return None

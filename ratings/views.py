from django.shortcuts import render

from arena.models import DEFAULT_ARENA, Arena
from ratings.presenters import CATEGORY_LABELS, leaderboard_json


def leaderboard_page(request):
    arenas = list(Arena.objects.all())
    arena = next((a for a in arenas if a.slug == request.GET.get("arena", DEFAULT_ARENA)), None)
    arena = arena or next((a for a in arenas if a.slug == DEFAULT_ARENA), None)
    category = request.GET.get("category", "overall")
    if category not in CATEGORY_LABELS:
        category = "overall"
    try:
        min_votes = max(0, int(request.GET["min_votes"]))
    except (KeyError, ValueError):
        min_votes = None
    board = leaderboard_json(category=category, style_control=request.GET.get("style_control") == "1",
                             min_votes=min_votes, arena=arena.slug if arena else DEFAULT_ARENA)
    return render(request, "ratings/leaderboard.html", {"board": board, "categories": CATEGORY_LABELS,
                                                        "category": category, "min_votes": board["min_votes"],
                                                        "arenas": arenas, "arena": arena})

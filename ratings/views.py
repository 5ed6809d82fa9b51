from django.shortcuts import render

from ratings.presenters import CATEGORY_LABELS, leaderboard_json


def leaderboard_page(request):
    category = request.GET.get("category", "overall")
    if category not in CATEGORY_LABELS:
        category = "overall"
    try:
        min_votes = max(0, int(request.GET["min_votes"]))
    except (KeyError, ValueError):
        min_votes = None
    board = leaderboard_json(category=category, style_control=request.GET.get("style_control") == "1",
                             min_votes=min_votes)
    return render(request, "ratings/leaderboard.html", {"board": board, "categories": CATEGORY_LABELS,
                                                        "category": category, "min_votes": board["min_votes"]})

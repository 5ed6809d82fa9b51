from django.shortcuts import get_object_or_404, render

from arena.battles import available_endpoints
from arena.clients import client_id
from arena.models import Battle, ModelEndpoint
from arena.presenters import battle_json


def _page(request, template: str, **context):
    client_id(request)  # every page starts the session the API calls rely on
    return render(request, template, {"available": len(available_endpoints()), **context})


def battle_page(request):
    return _page(request, "arena/battle.html", mode="anony")


def named_page(request):
    return _page(request, "arena/battle.html", mode="named", choices=_choices())


def direct_page(request):
    return _page(request, "arena/battle.html", mode="direct", choices=_choices())


def _choices():
    live = {e.id for e in available_endpoints(named=True)}
    return [e for e in ModelEndpoint.objects.enabled().for_named_modes() if e.id in live]


def models_page(request):
    return _page(request, "arena/models.html", endpoints=ModelEndpoint.objects.enabled().for_named_modes())


def about_page(request):
    return _page(request, "arena/about.html")


def shared_battle_page(request, battle_id):
    battle = get_object_or_404(Battle.objects.select_related("endpoint_a", "endpoint_b", "vote"), uuid=battle_id)
    data = battle_json(battle, client_id=client_id(request)) if battle.reveals_models() else None
    return render(request, "arena/shared.html", {"battle": data, "decided": data is not None})

from django.contrib import admin
from django.urls import include, path

from arena import views
from arena.api import api
from arena.openai_api import v1
from ratings.views import leaderboard_page

urlpatterns = [
    path("", views.battle_page, name="battle"),
    path("named/", views.named_page, name="named"),
    path("direct/", views.direct_page, name="direct"),
    path("models/", views.models_page, name="models"),
    path("models/<path:name>/", views.model_page, name="model"),
    path("history/", views.history_page, name="history"),
    path("history/<uuid:battle_id>/", views.history_battle_page, name="history-battle"),
    path("history/<uuid:battle_id>/delete/", views.delete_from_history_page, name="history-delete"),
    path("about/", views.about_page, name="about"),
    path("b/<uuid:battle_id>/", views.shared_battle_page, name="shared-battle"),
    path("leaderboard/", leaderboard_page, name="leaderboard"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("v1/", v1.urls),
]

from django.contrib import admin

from arena.models import Vote
from ratings.models import FlaggedClient


@admin.register(FlaggedClient)
class FlaggedClientAdmin(admin.ModelAdmin):
    list_display = ["client_id", "z_score", "decisive_votes", "votes_kept", "flagged_at", "cleared"]
    list_filter = ["cleared"]
    readonly_fields = ["client_id", "z_score", "decisive_votes", "flagged_at"]
    actions = ["clear"]

    @admin.display(description="Votes in the data")
    def votes_kept(self, obj):
        return Vote.objects.filter(client_id=obj.client_id).count()

    @admin.action(description="Clear: count these clients' votes again")
    def clear(self, request, queryset):
        queryset.update(cleared=True)

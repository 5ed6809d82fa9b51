from django.contrib import admin

from ratings.models import FlaggedVote


@admin.register(FlaggedVote)
class FlaggedVoteAdmin(admin.ModelAdmin):
    list_display = ["vote_id", "detector", "reason", "evidence", "actor_votes", "voter", "flagged_at", "cleared"]
    list_filter = ["detector", "cleared"]
    list_select_related = ["vote"]
    readonly_fields = ["vote", "detector", "reason", "evidence", "actor_votes", "flagged_at"]
    actions = ["clear"]

    @admin.display(description="Client")
    def voter(self, obj):
        return f"{obj.vote.client_id[:8]}…"

    @admin.action(description="Clear: count these votes again")
    def clear(self, request, queryset):
        queryset.update(cleared=True)

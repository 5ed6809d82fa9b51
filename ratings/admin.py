from django.contrib import admin

from ratings.models import FlaggedVote, PromptHeadFit


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


@admin.register(PromptHeadFit)
class PromptHeadFitAdmin(admin.ModelAdmin):
    """Read-only: heads are trained by the worker (ratings/prompt_heads.py), never edited."""

    list_display = ["arena", "trained_at", "votes", "held_out_votes", "prompt_log_loss", "global_log_loss",
                    "two_standard_errors", "published"]
    list_filter = ["arena", "published"]
    fields = ["arena", "trained_at", "verdict", "votes", "held_out_votes", "prompt_log_loss", "global_log_loss",
              "gain_standard_error", "published", "models", "dimensions"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="2 SE of the gain")
    def two_standard_errors(self, obj):
        return f"{2 * obj.gain_standard_error:.4f}"

    @admin.display(description="Held-out test")
    def verdict(self, obj):
        return obj.verdict()

    @admin.display(description="Models (votes)")
    def models(self, obj):
        return ", ".join(f"{name} ({n})" for name, n in zip(obj.model_names, obj.model_votes, strict=True))

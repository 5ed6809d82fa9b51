from django.contrib import admin, messages
from django.utils.html import format_html

from arena.endpoint_form import PARAMS, EndpointForm
from arena.endpoint_stats import queue_lengths, recent_stats
from arena.models import Arena, Backend, Battle, Message, ModelEndpoint, Turn, Vote
from workers.heartbeat import live_queues


@admin.register(ModelEndpoint)
class ModelEndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    # Narrow enough for 1280 px with the live columns (worker, queue, speed, errors) in view.
    list_display = ["endpoint_name", "backend", "queue", "arena_list", "enabled", "retired", "weight",
                    "worker_live", "queued", "recent_tokens_per_second", "recent_error_rate"]
    fieldsets = [
        (None, {"fields": ["name", "codename", "name_published", "organisation", "license", "description",
                           "aliases"]}),
        ("Serving", {"fields": ["backend", "queue", "api_key", "enabled", "retired", "anonymous_only",
                                "sampling_weight", "arenas"]}),
        *[(f"Parameters: {Backend(kind).label}", {
            "fields": list(fields), "classes": ["backend-params", f"backend-{kind}"],
            "description": f"Used when the backend is “{Backend(kind).label}”. Empty fields take the default."})
          for kind, fields in PARAMS.items()],
        ("Advanced", {"fields": ["params"]}),
    ]

    class Media:
        js = ["arena/admin_endpoint.js"]
        css = {"all": ["arena/admin_endpoint.css"]}
    list_filter = ["backend", "enabled", "retired", "anonymous_only"]
    list_display_links = ["endpoint_name"]
    search_fields = ["name", "codename", "organisation"]
    actions = ["test_endpoint", "enable", "disable"]

    def changelist_view(self, request, extra_context=None):
        try:  # one round of lookups for the whole page, not one per row
            self._live, self._stats = live_queues(), recent_stats()
            self._queued = queue_lengths(ModelEndpoint.objects.values_list("queue", flat=True))
        except Exception:
            self._live, self._stats, self._queued = set(), {}, {}
        return super().changelist_view(request, extra_context)

    @admin.display(description="Name", ordering="name")
    def endpoint_name(self, obj):
        if obj.public_name == obj.name:
            return obj.name
        return format_html("{}<br><small>shown as {}</small>", obj.name, obj.public_name)

    @admin.display(description="Weight", ordering="sampling_weight")
    def weight(self, obj):
        return f"{obj.sampling_weight:g}"

    @admin.display(description="Arenas")
    def arena_list(self, obj):
        return ", ".join(obj.arenas) or "–"

    @admin.display(boolean=True, description="Live")
    def worker_live(self, obj):
        return obj.queue in self._live

    @admin.display(description="Queued")
    def queued(self, obj):
        return self._queued.get(obj.queue, "–")

    @admin.display(description="Tok/s 24 h")
    def recent_tokens_per_second(self, obj):
        rate = self._stats.get(obj.id)
        return f"{rate.tokens_per_second:.1f}" if rate and rate.tokens_per_second else "–"

    @admin.display(description="Errors 24 h")
    def recent_error_rate(self, obj):
        rate = self._stats.get(obj.id)
        return f"{rate.error_rate:.0%} of {rate.answers}" if rate and rate.error_rate is not None else "–"

    @admin.action(description="Test endpoint (send a short prompt through its worker)")
    def test_endpoint(self, request, queryset):
        # Imported here: it loads the workers' backends (scipy, the search package), half a second that
        # every manage.py command would pay at start-up, since Django imports the admin modules then.
        from arena.endpoint_check import check_endpoint  # noqa: PLC0415

        for endpoint in queryset[:5]:
            result = check_endpoint(endpoint)
            if result.ok:
                self.message_user(request, f"{endpoint.name} answered {result.text[:200]!r}: {result.tokens} tokens, "
                                           f"first token after {result.ttft_ms} ms, "
                                           f"{result.tokens_per_second} tokens/s.",
                                  messages.SUCCESS)
            else:
                self.message_user(request, f"{endpoint.name} failed: {result.error}", messages.ERROR)

    @admin.action(description="Enable selected endpoints")
    def enable(self, request, queryset):
        queryset.update(enabled=True)

    @admin.action(description="Disable selected endpoints")
    def disable(self, request, queryset):
        queryset.update(enabled=False)


@admin.register(Arena)
class ArenaAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "position", "anonymous_votes", "anonymous_vote_weight", "models"]
    ordering = ["position", "title"]

    def get_readonly_fields(self, request, obj=None):
        return ["slug"] if obj else []  # battles, votes and leaderboards refer to it by its slug

    @admin.display(description="Enabled models")
    def models(self, obj):
        return ModelEndpoint.objects.enabled().in_arena(obj.slug).count()


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["side", "status", "attempt", "tokens", "ttft_ms", "duration_ms", "error", "text"]
    readonly_fields = fields
    can_delete = False


@admin.register(Turn)
class TurnAdmin(admin.ModelAdmin):
    list_display = ["battle", "index", "created_at"]
    inlines = [MessageInline]
    raw_id_fields = ["battle"]


@admin.register(Battle)
class BattleAdmin(admin.ModelAdmin):
    list_display = ["uuid", "mode", "arena", "endpoint_a", "endpoint_b", "created_at"]
    list_filter = ["mode", "arena"]
    list_select_related = ["endpoint_a", "endpoint_b", "arena"]
    readonly_fields = ["uuid", "mode", "arena", "endpoint_a", "endpoint_b", "client_id", "user", "created_at",
                       "updated_at"]


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ["battle", "arena", "choice", "counts", "weight", "user", "excluded_reason", "rigging_flag",
                    "created_at"]
    list_filter = ["arena", "choice", "counts", "flag__detector"]
    list_select_related = ["battle", "arena", "user", "flag"]
    readonly_fields = ["battle", "choice", "client_id", "user", "counts", "weight", "excluded_reason", "rigging_flag",
                       "created_at"]

    @admin.display(description="Flagged as rigging")
    def rigging_flag(self, obj):
        flag = getattr(obj, "flag", None)
        if flag is None:
            return ""
        return f"{flag.reason} (cleared by staff: counts)" if flag.cleared else flag.reason

    def has_change_permission(self, request, obj=None):
        return False  # votes are append-only

from django import forms
from django.contrib import admin, messages

from arena.endpoint_check import check_endpoint
from arena.endpoint_stats import queue_lengths, recent_stats
from arena.models import Arena, Battle, Message, ModelEndpoint, Turn, Vote, default_arenas
from workers.backends import validate_params
from workers.heartbeat import live_queues


class EndpointForm(forms.ModelForm):
    api_key = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                              help_text="Leave empty to keep the stored key. It is never shown again.")
    arenas = forms.ModelMultipleChoiceField(
        queryset=Arena.objects.all(), to_field_name="slug", required=False, widget=forms.CheckboxSelectMultiple,
        initial=default_arenas,
        help_text="The arenas whose anonymous battles this model is drawn for; none keeps it to named modes.")

    class Meta:
        model = ModelEndpoint
        fields = "__all__"

    def clean_arenas(self):
        return [arena.slug for arena in self.cleaned_data.get("arenas") or []]

    def clean_api_key(self):
        value = self.cleaned_data.get("api_key")
        return value if value else (self.instance.api_key if self.instance.pk else "")

    def clean(self):
        data = super().clean()
        backend, params = data.get("backend"), data.get("params")
        if backend and params is not None:
            try:
                data["params"] = validate_params(backend, params)
            except ValueError as exc:
                self.add_error("params", str(exc))
        return data


@admin.register(ModelEndpoint)
class ModelEndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["name", "public_name", "organisation", "backend", "queue", "arena_list", "enabled",
                    "sampling_weight", "worker_live", "queued", "recent_tokens_per_second", "recent_error_rate"]
    list_filter = ["backend", "enabled", "anonymous_only"]
    list_display_links = ["name"]
    search_fields = ["name", "codename", "organisation"]
    actions = ["test_endpoint", "enable", "disable"]

    def changelist_view(self, request, extra_context=None):
        try:  # one round of lookups for the whole page, not one per row
            self._live, self._stats = live_queues(), recent_stats()
            self._queued = queue_lengths(ModelEndpoint.objects.values_list("queue", flat=True))
        except Exception:
            self._live, self._stats, self._queued = set(), {}, {}
        return super().changelist_view(request, extra_context)

    @admin.display(description="Arenas")
    def arena_list(self, obj):
        return ", ".join(obj.arenas) or "–"

    @admin.display(boolean=True, description="Live worker")
    def worker_live(self, obj):
        return obj.queue in self._live

    @admin.display(description="Queued")
    def queued(self, obj):
        return self._queued.get(obj.queue, "–")

    @admin.display(description="Tokens/s (24 h)")
    def recent_tokens_per_second(self, obj):
        rate = self._stats.get(obj.id)
        return f"{rate.tokens_per_second:.1f}" if rate and rate.tokens_per_second else "–"

    @admin.display(description="Errors (24 h)")
    def recent_error_rate(self, obj):
        rate = self._stats.get(obj.id)
        return f"{rate.error_rate:.0%} of {rate.answers}" if rate and rate.error_rate is not None else "–"

    @admin.action(description="Test endpoint (send a short prompt through its worker)")
    def test_endpoint(self, request, queryset):
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
    list_display = ["battle", "arena", "choice", "counts", "weight", "user", "excluded_reason", "created_at"]
    list_filter = ["arena", "choice", "counts"]
    list_select_related = ["battle", "arena", "user"]
    readonly_fields = ["battle", "choice", "client_id", "user", "counts", "weight", "excluded_reason", "created_at"]

    def has_change_permission(self, request, obj=None):
        return False  # votes are append-only

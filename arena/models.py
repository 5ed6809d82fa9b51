import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from arena import redis_keys


class Backend(models.TextChoices):
    TRANSFORMERS = "transformers", "Local transformers model"
    OPENAI = "openai", "OpenAI-compatible server"
    SEARCH = "search", "Search-augmented (wraps a local model)"


DEFAULT_ARENA = "text"


class Arena(models.Model):
    """A pool of contestants of one kind that meet only each other in anonymous battles, with a
    leaderboard of its own: an answer that cites retrieved sources is only blind beside other
    answers that do (LMArena runs its Search Arena apart for this reason)."""

    slug = models.SlugField(max_length=40, primary_key=True,
                            help_text="The arena's id in the API and in URLs (?arena=search); it cannot change.")
    title = models.CharField(max_length=100)
    description = models.TextField(blank=True, help_text="One or two sentences, shown under the arena's tab.")
    position = models.PositiveSmallIntegerField(default=0, help_text="Tabs are shown by position, then title.")
    # Each of these, left empty, follows the site's setting of the same name (ARENA_PACING...).
    pacing = models.BooleanField(
        null=True, blank=True, verbose_name="pace anonymous battles",
        help_text="Release both sides' text on one clock before the vote, so that how and when an answer arrives "
                  "does not tell the contestants apart. The price: a fast side waits for a slow partner. "
                  "Empty: the site's ARENA_PACING.")
    pacing_chars_per_second = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(10)],
        help_text="The most characters per second each side grows by while paced. "
                  "Empty: ARENA_PACING_CHARS_PER_SECOND.")
    pacing_start_deadline = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="Seconds after which both sides start even if one has no text yet (the other shows its own as "
                  "soon as it has some). Empty: ARENA_PACING_START_DEADLINE.")
    answer_token_cap = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="One token cap for every contestant of the arena's anonymous battles (a model's own lower cap "
                  "still applies, and an answer cut by either is marked alike). Empty: ARENA_ANSWER_TOKEN_CAP.")
    # Who may vote, and how much a vote counts (README "Who is voting"): a signed-in person's
    # counted vote weighs 1; an anonymous one is refused, or weighs anonymous_vote_weight.
    anonymous_votes = models.BooleanField(
        default=True, help_text="Whether people who are not signed in may vote; if not, they are asked to sign in.")
    anonymous_vote_weight = models.FloatField(
        default=1.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="How much an anonymous vote counts in the ratings, from 0 to 1 (a signed-in person's counts 1); "
        "at 0 anonymous votes are kept but not counted.")

    class Meta:
        ordering = ["position", "title"]
        constraints = [models.CheckConstraint(condition=Q(anonymous_vote_weight__gte=0, anonymous_vote_weight__lte=1),
                                              name="arena_anonymous_weight_0_to_1")]

    def __str__(self) -> str:
        return self.title

    def vote_weight(self, *, signed_in: bool) -> float:
        return 1.0 if signed_in else self.anonymous_vote_weight


# Arena fields that, left empty, follow a site setting (the key in settings.ARENA).
SITE_DEFAULTS = {"pacing": "PACING", "pacing_chars_per_second": "PACING_CHARS_PER_SECOND",
                 "pacing_start_deadline": "PACING_START_DEADLINE", "answer_token_cap": "ANSWER_TOKEN_CAP"}


def arena_setting(arena: Arena | None, field: str):
    """The arena's own value of a setting, or the site's where it has none (or there is no arena)."""
    value = getattr(arena, field) if arena is not None else None
    return settings.ARENA[SITE_DEFAULTS[field]] if value is None else value


def default_arenas() -> list[str]:
    return [DEFAULT_ARENA]


class EndpointQuerySet(models.QuerySet):
    def enabled(self):
        return self.filter(enabled=True)

    def in_arena(self, slug: str):
        return self.filter(arenas__contains=[slug])

    def on_queues(self, queues):
        return self.filter(queue__in=list(queues))

    def for_named_modes(self):
        return self.filter(anonymous_only=False)


class ModelEndpoint(models.Model):
    """A model the arena can ask: which backend runs it, with what parameters, on which queue.

    ``name`` is the real name. Under a ``codename`` (as "gpt2-chatbot" once was) the arena shows
    the codename everywhere until staff set ``name_published``; history then shows the real name.
    """

    name = models.CharField(max_length=100, unique=True)
    organisation = models.CharField(max_length=100, blank=True)
    license = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    aliases = models.TextField(
        blank=True,
        help_text="Other names this model or its maker go by, one per line. Answers naming any of "
        "them reveal an identity and are excluded from ratings.",
    )
    backend = models.CharField(max_length=20, choices=Backend.choices)
    params = models.JSONField(default=dict, blank=True)
    api_key = models.CharField(max_length=500, blank=True, help_text="Kept on the server; never shown again in full.")
    queue = models.CharField(
        max_length=100,
        help_text="Celery queue whose workers serve this model. Endpoints over the same local model "
        "share a queue so that their requests batch together.",
    )
    enabled = models.BooleanField(default=True)
    sampling_weight = models.FloatField(default=1.0)
    anonymous_only = models.BooleanField(default=False, help_text="Only appears in anonymous battles.")
    codename = models.CharField(max_length=100, blank=True)
    name_published = models.BooleanField(default=True)
    retired = models.BooleanField(
        default=False, help_text="Deprecated: hidden from the leaderboard unless a visitor asks to see deprecated "
        "models. Its votes, ratings and history are kept. (Whether it is still drawn is `enabled`'s job.)")
    arenas = ArrayField(models.SlugField(max_length=40), default=default_arenas, blank=True,
                        help_text="The arenas (slugs) whose anonymous battles this model is drawn for.")
    created_at = models.DateTimeField(default=timezone.now)

    objects = EndpointQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=Q(sampling_weight__gte=0), name="endpoint_weight_nonnegative")]

    def __str__(self) -> str:
        return self.name

    @property
    def identity_published(self) -> bool:
        """False while the model runs under a codename: then nothing public may say what it is."""
        return self.name_published or not self.codename

    @property
    def public_name(self) -> str:
        return self.name if self.identity_published else self.codename

    @property
    def public_organisation(self) -> str:
        return self.organisation if self.identity_published else ""

    def identity_words(self) -> list[str]:
        words = [self.name, self.codename, self.organisation, *self.aliases.splitlines()]
        return [w.strip() for w in words if w and w.strip()]


class Mode(models.TextChoices):
    ANONYMOUS = "anony", "Anonymous battle"
    NAMED = "named", "Named side-by-side"
    DIRECT = "direct", "Direct chat"


class BattleQuerySet(models.QuerySet):
    def in_history_of(self, *, client_id: str):
        """The battles one visitor sees in "Your battles": those this browser started and has not
        deleted. Keyed on the browser; a signed-in owner is one more filter on this line."""
        return self.filter(client_id=client_id, hidden_at__isnull=True)

    def visible(self):
        return self.filter(hidden_at__isnull=True)


class Battle(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    mode = models.CharField(max_length=10, choices=Mode.choices)
    endpoint_a = models.ForeignKey(ModelEndpoint, on_delete=models.PROTECT, related_name="+")
    endpoint_b = models.ForeignKey(ModelEndpoint, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    # The arena an anonymous battle was drawn in; named and direct battles are drawn in none.
    arena = models.ForeignKey(Arena, on_delete=models.PROTECT, related_name="+", null=True, blank=True,
                              default=DEFAULT_ARENA)
    client_id = models.CharField(max_length=64, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, related_name="+", null=True,
                             blank=True, help_text="Who started it, when signed in.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Set when the owner deletes the battle from their history. The row, its answers and its vote
    # stay, so the ratings never change after the fact; the battle is only no longer shown.
    hidden_at = models.DateTimeField(null=True, blank=True)

    objects = BattleQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["created_at"]),
                   models.Index(fields=["client_id", "-created_at"], name="battle_history",
                                condition=Q(hidden_at__isnull=True))]

    def __str__(self) -> str:
        return f"{self.get_mode_display()} {self.uuid}"

    @property
    def sides(self) -> list[str]:
        return ["a"] if self.mode == Mode.DIRECT else ["a", "b"]

    def endpoint_for(self, side: str) -> ModelEndpoint:
        return self.endpoint_a if side == "a" else self.endpoint_b

    def reveals_models(self) -> bool:
        """Named and direct battles show their models; anonymous ones only after the vote."""
        return self.mode != Mode.ANONYMOUS or hasattr(self, "vote")

    def stream_key(self) -> str:
        return redis_keys.battle_events(self.uuid)


class Turn(models.Model):
    battle = models.ForeignKey(Battle, on_delete=models.CASCADE, related_name="turns")
    index = models.PositiveIntegerField()
    prompt = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["battle", "index"], name="turn_unique_index")]


class Status(models.TextChoices):
    PENDING = "pending"
    STREAMING = "streaming"
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"


ACTIVE_STATUSES = (Status.PENDING, Status.STREAMING)


class MessageQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status__in=ACTIVE_STATUSES)


class Message(models.Model):
    """One side's answer to one turn. ``attempt`` grows on regenerate; a worker writes only
    while its attempt is current, so a stale worker can never overwrite a newer answer."""

    turn = models.ForeignKey(Turn, on_delete=models.CASCADE, related_name="messages")
    side = models.CharField(max_length=1, choices=[("a", "A"), ("b", "B")])
    attempt = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    text = models.TextField(blank=True)
    tokens = models.PositiveIntegerField(default=0)
    ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="For staff; never shown to users of anonymous battles.")
    compute = models.JSONField(default=dict, blank=True)
    finish_reason = models.CharField(max_length=20, blank=True, help_text="The backend's: stop, length, …")
    worker = models.CharField(max_length=200, blank=True)
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Facts a vote needs about a finished answer, written by the worker with the answer itself so
    # that voting only reads them (arena.identity.finished_answer_facts). Null until the
    # answer is done, and on answers stored before these columns: a vote then works them out.
    identity_leak = models.CharField(max_length=100, null=True, blank=True,
                                     help_text="The model or maker this answer names; empty when none.")
    style_counts = models.JSONField(null=True, blank=True, help_text="Tokens, headers, list items and bold spans.")
    citations = models.JSONField(default=list, blank=True,
                                 help_text="The sources the answer cites as [n]: a list of {n, title, source}.")

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["turn__index", "side"]
        constraints = [models.UniqueConstraint(fields=["turn", "side"], name="message_unique_side")]
        indexes = [models.Index(fields=["status", "started_at"])]

    def is_finished(self) -> bool:
        return self.status not in ACTIVE_STATUSES


class Choice(models.TextChoices):
    A = "a", "A is better"
    B = "b", "B is better"
    TIE = "tie", "Tie"
    BOTH_BAD = "bothbad", "Both are bad"


class Vote(models.Model):
    """Append-only: one per battle, enforced by the database. Ratings derive from these rows."""

    battle = models.OneToOneField(Battle, on_delete=models.CASCADE, related_name="vote")
    choice = models.CharField(max_length=10, choices=Choice.choices)
    client_id = models.CharField(max_length=64, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, related_name="+", null=True,
                             blank=True, help_text="Who voted, when signed in.")
    counts = models.BooleanField(help_text="Whether the vote enters the ratings.")
    weight = models.FloatField(default=1.0, help_text="How much a counted vote weighs in the ratings (the arena's "
                               "weight for anonymous votes; 1 signed in).")
    excluded_reason = models.CharField(max_length=200, blank=True)
    features = models.JSONField(default=dict, blank=True, help_text="Category and style facts for the ratings.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    # The facts the leaderboard recompute reads, as typed columns copied from the battle and from
    # `features` when the vote is cast: one scan of this table (no join, no JSON) gives every
    # category's pair counts, and Elo and style control read fixed-width rows (ratings/queries.py).
    endpoint_a = models.ForeignKey(ModelEndpoint, on_delete=models.PROTECT, related_name="+", null=True)
    endpoint_b = models.ForeignKey(ModelEndpoint, on_delete=models.PROTECT, related_name="+", null=True)
    arena = models.ForeignKey(Arena, on_delete=models.PROTECT, related_name="+", null=True, default=DEFAULT_ARENA)
    turns = models.PositiveSmallIntegerField(default=1, help_text="User turns before the vote.")
    prompt_tokens = models.PositiveIntegerField(default=0)
    is_code = models.BooleanField(default=False)
    is_math = models.BooleanField(default=False)
    language = models.CharField(max_length=40, blank=True)
    prompt_hash = models.CharField(max_length=16, blank=True)
    prompt_nth = models.PositiveIntegerField(
        default=1, help_text="1 + the counted votes cast earlier on the same prompt (for de-duplication).")
    style_tokens = models.FloatField(default=0.0, help_text="(a - b) / (a + b) of the answers' token counts.")
    style_headers = models.FloatField(default=0.0)
    style_lists = models.FloatField(default=0.0)
    style_bold = models.FloatField(default=0.0)
    style_citations = models.FloatField(default=0.0, help_text="(a - b) / (a + b) of the answers' citation counts.")
    # Who cast it, as far as the arena can tell (arena.clients.VoterIdentity): the rigging tests pool
    # votes linked by any of these with the client id into one actor (ratings/actors.py).
    address_key = models.CharField(max_length=32, blank=True, help_text="Keyed hash of the voter's address (/64).")
    cookie_origin = models.CharField(max_length=32, blank=True,
                                     help_text="Keyed hash of the address the voter's cookie was issued to.")
    cookie_issued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The last number taken on a prompt is one index lookup, however many votes it has.
        indexes = [models.Index(fields=["prompt_hash", "prompt_nth"], name="vote_prompt_nth",
                                condition=Q(counts=True))]
        constraints = [models.CheckConstraint(condition=Q(weight__gt=0, weight__lte=1) | Q(counts=False),
                                              name="vote_counted_weight_0_to_1")]

    def __str__(self) -> str:
        return f"{self.get_choice_display()} on {self.battle.uuid}"

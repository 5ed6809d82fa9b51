import numpy as np
from django.db import models
from django.utils import timezone

from ratings.p2l import PromptHead


class LeaderboardSnapshot(models.Model):
    """A computed leaderboard of one arena and category; pages read the newest one and never compute
    in a request."""

    arena = models.CharField(max_length=40, default="text", help_text="The arena's slug.")
    category = models.CharField(max_length=50, default="overall")
    computed_at = models.DateTimeField(default=timezone.now, db_index=True)
    total_votes = models.PositiveIntegerField(default=0)
    data = models.JSONField(default=dict)

    class Meta:
        get_latest_by = "computed_at"
        indexes = [models.Index(fields=["arena", "category", "-computed_at"], name="snapshot_arena_latest")]


class FlaggedVoteQuerySet(models.QuerySet):
    def in_force(self):
        return self.filter(cleared=False)


class FlaggedVote(models.Model):
    """A vote the rigging tests (ratings/vote_surprise.py) found part of an attack. The vote stays
    in the data but stops counting, until staff clear the flag (a cleared flag is never set again)."""

    vote = models.OneToOneField("arena.Vote", on_delete=models.CASCADE, primary_key=True, related_name="flag")
    detector = models.CharField(max_length=40, help_text="The test that fired (ratings/vote_surprise.py).")
    reason = models.CharField(max_length=300)
    evidence = models.FloatField(help_text="Natural log of the test's likelihood ratio for the actor (or model).")
    actor_votes = models.PositiveIntegerField(help_text="Votes of the actor this vote was pooled with.")
    flagged_at = models.DateTimeField(default=timezone.now)
    cleared = models.BooleanField(default=False, help_text="Reviewed by staff: this vote counts again.")

    objects = FlaggedVoteQuerySet.as_manager()

    class Meta:
        ordering = ["-flagged_at"]

    def __str__(self) -> str:
        return f"vote {self.vote_id}: {self.detector}"


class PromptEmbedding(models.Model):
    """The all-MiniLM embedding of a counted vote's prompt, for leaderboards of similar prompts."""

    vote = models.OneToOneField("arena.Vote", on_delete=models.CASCADE, primary_key=True, related_name="+")
    vector = models.BinaryField(help_text="384 float32 values, unit length")


class VoteChunk(models.Model):
    """The counted votes with an id in (lo, hi], packed once as one column-store blob, so that a
    refit over every vote reads a few large rows instead of a million small ones.

    Packed by ratings/vote_chunks.py; a trigger on arena_vote (migration 0004) deletes a chunk as
    soon as a vote in its range is inserted, changed or deleted, and the next recompute packs it again.
    """

    lo = models.BigIntegerField(unique=True, help_text="Votes with an id above this one ...")
    hi = models.BigIntegerField(help_text="... up to and including this one.")
    votes = models.PositiveIntegerField()
    layout = models.CharField(max_length=200, help_text="The numpy dtype the data was packed with.")
    data = models.BinaryField()
    packed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["lo"]
        indexes = [models.Index(fields=["hi"], name="votechunk_hi")]

    def __str__(self) -> str:
        return f"votes {self.lo + 1}..{self.hi} ({self.votes})"


class PromptHeadFitQuerySet(models.QuerySet):
    def newest(self, arena: str) -> "PromptHeadFit | None":
        return self.filter(arena=arena).order_by("-trained_at").first()


class PromptHeadFit(models.Model):
    """One arena's prompt-to-leaderboard head (ratings/p2l.py), trained on its counted votes by
    ratings/prompt_heads.py, with the held-out test that decides whether it may answer.

    Its own table rather than a key of LeaderboardSnapshot.data: snapshots are published at every
    recompute and are the public table's history, while a head is trained on a slower clock and is
    K × 385 numbers that no page shows. The stored head is the one the held-out votes tested (fitted
    on the other 80%), so what is published is exactly what was measured.
    """

    arena = models.CharField(max_length=40, help_text="The arena's slug.")
    trained_at = models.DateTimeField(default=timezone.now)
    endpoint_ids = models.JSONField(default=list, help_text="The endpoints the head rates, in the order of its rows.")
    model_names = models.JSONField(default=list, help_text="Their public names when it was trained.")
    model_votes = models.JSONField(default=list, help_text="Each one's votes among those it was trained and tested on.")
    dimensions = models.PositiveIntegerField(help_text="Numbers per prompt embedding.")
    weights = models.BinaryField(help_text="float32, one row per model: a bias, then a weight per embedding number.")
    votes = models.PositiveIntegerField(help_text="Counted votes with an embedded prompt, training and held out.")
    last_vote_id = models.BigIntegerField(help_text="The newest of them: training is skipped while nothing changed.")
    held_out_votes = models.PositiveIntegerField()
    global_log_loss = models.FloatField(help_text="Mean log-loss of the global fit on the held-out votes.")
    prompt_log_loss = models.FloatField(help_text="Mean log-loss of the head on the held-out votes.")
    gain_standard_error = models.FloatField(help_text="Standard error of the mean per-vote gain.")
    published = models.BooleanField(help_text="It beat the global fit by more than two standard errors.")
    categories = models.JSONField(default=dict, help_text=(
        "Per leaderboard category with votes among these: their number, each model's, and the mean embedding "
        "of their prompts."))

    objects = PromptHeadFitQuerySet.as_manager()

    class Meta:
        get_latest_by = "trained_at"
        indexes = [models.Index(fields=["arena", "-trained_at"], name="promptheadfit_arena_latest")]

    def __str__(self) -> str:
        return f"{self.arena} head of {self.trained_at:%Y-%m-%d %H:%M}"

    def head(self) -> PromptHead:
        weights = np.frombuffer(bytes(self.weights), dtype=np.float32).reshape(len(self.endpoint_ids), -1)
        return PromptHead(weights=weights.astype(np.float64))

    def verdict(self) -> str:
        """One sentence on the held-out test, for the admin and the leaderboard page."""
        gain = self.global_log_loss - self.prompt_log_loss
        decision = ("published, so it answers the leaderboard for a prompt" if self.published else
                    f"not published, since the gain ({gain:.4f}) is not above two standard errors "
                    f"({2 * self.gain_standard_error:.4f}), so the votes on similar prompts answer")
        return (f"On {self.held_out_votes} held-out votes (of {self.votes}) the prompt-to-leaderboard head's "
                f"log-loss is {self.prompt_log_loss:.4f} against the global fit's {self.global_log_loss:.4f}: "
                f"{decision}.")

    def summary(self) -> dict:
        return {"trained_at": self.trained_at.isoformat(), "votes": self.votes, "held_out_votes": self.held_out_votes,
                "global_log_loss": self.global_log_loss, "prompt_log_loss": self.prompt_log_loss,
                "gain_standard_error": self.gain_standard_error, "published": self.published,
                "verdict": self.verdict()}

"""Find rigging in the arena's recent votes and flag it: flagged votes stay in the data but stop
counting, each with the reason shown in the admin (the tests are ratings/vote_surprise.py, the
pooling of votes into actors ratings/actors.py).

Every decisive vote of the window's anonymous battles is evidence, counted or not: a script's votes over the daily
cap or without a proof of work still say what it is doing. Only counted votes get a flag (the
others count for nothing already). The ratings the tests compare with are fitted without the
votes flagged so far, and again without those flagged on this pass (``detect_rigging_refit``).
"""

import logging
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from arena.models import ModelEndpoint, Vote
from ratings.actors import actor_index, cookie_lineage
from ratings.battle_arrays import CHOICE_CODE
from ratings.bradley_terry import fit_bradley_terry, prior_l2
from ratings.models import FlaggedVote
from ratings.queries import pair_counts
from ratings.vote_surprise import (
    AGAINST_RATINGS,
    FRESH_IDENTITIES,
    FRESH_VOTES,
    HEAVY_UNDERDOG,
    ONE_MODEL,
    detect_rigging_refit,
)

log = logging.getLogger(__name__)

PRIOR_TIES = 2.0  # keeps ratings fitted on a few votes finite


def detect_anomalous_voters() -> list[FlaggedVote]:
    """Flag the counted votes of the window (``ARENA["RIGGING_WINDOW_DAYS"]``) that the rigging
    tests find part of an attack; returns the new flags. A flag staff cleared is never set again."""
    alpha = settings.ARENA["RIGGING_ALPHA"]
    if alpha <= 0:
        return []
    since = timezone.now() - timedelta(days=settings.ARENA["RIGGING_WINDOW_DAYS"])
    # Anonymous battles only (those drawn in an arena): a vote for a model one can see is a preference, not rigging.
    rows = list(Vote.objects.filter(created_at__gte=since, arena__isnull=False, endpoint_a__isnull=False,
                                    endpoint_b__isnull=False)
                .order_by("id").values_list("id", "client_id", "address_key", "cookie_origin", "cookie_issued_at",
                                            "user_id", "endpoint_a_id", "endpoint_b_id", "choice", "counts"))
    if not rows:
        return []
    ids = list(ModelEndpoint.objects.order_by("id").values_list("id", flat=True))
    names = dict(ModelEndpoint.objects.values_list("id", "name"))
    index = {e: i for i, e in enumerate(ids)}
    vote_id, client, address, origin, issued, user, a, b, choice, counts = zip(*rows, strict=True)
    vote_id, counts = np.array(vote_id), np.array(counts, dtype=bool)
    a = np.array([index[e] for e in a])
    b = np.array([index[e] for e in b])
    outcome = np.array([CHOICE_CODE[c] for c in choice])
    issued_s = np.array([t.timestamp() if t else 0.0 for t in issued])
    actor = actor_index(np.array(client, dtype=object), np.array(address, dtype=object),
                        np.array(["" if u is None else str(u) for u in user], dtype=object),
                        cookie_lineage(np.array(origin, dtype=object), issued_s))

    def strengths(without: np.ndarray) -> np.ndarray:
        left_out = vote_id[without & counts].tolist()
        table = pair_counts(ids, ~Q(id__in=left_out)) if left_out else pair_counts(ids)
        return fit_bradley_terry(table, l2=prior_l2(PRIOR_TIES)) if len(table.pairs) else np.zeros(len(ids))

    findings = detect_rigging_refit(actor, a, b, outcome, strengths, alpha=alpha)
    chosen = np.flatnonzero(findings.flagged & counts)
    if not len(chosen):
        return []
    seen = set(FlaggedVote.objects.filter(vote_id__in=vote_id[chosen].tolist()).values_list("vote_id", flat=True))
    actor_votes = np.bincount(actor)
    flags = [FlaggedVote(vote_id=int(vote_id[i]), detector=findings.detector[i],
                         reason=_reason(findings.detector[i], int(actor_votes[actor[i]]),
                                        names.get(ids[findings.model[i]], "?") if findings.model[i] >= 0 else "",
                                        float(findings.evidence[i])),
                         evidence=float(findings.evidence[i]), actor_votes=int(actor_votes[actor[i]]))
             for i in chosen if int(vote_id[i]) not in seen]
    FlaggedVote.objects.bulk_create(flags, ignore_conflicts=True)
    if flags:
        log.warning("flagged %s vote(s) as rigging", len(flags))
    return flags


def _reason(detector: str, actor_votes: int, model: str, evidence: float) -> str:
    pooled = f"its voter ({actor_votes} votes pooled by cookie, address and cookie lineage)"
    odds = f"likelihood ratio e^{evidence:.0f}"
    if detector == AGAINST_RATINGS:
        return f"Rigging: {pooled} chose the lower-rated side far more often than the ratings allow ({odds})."
    if detector == HEAVY_UNDERDOG:
        return f"Rigging: {pooled} chose the heavy underdog in bulk ({odds})."
    if detector == ONE_MODEL:
        return f"Rigging: {pooled} picked {model} in far more of its battles than the ratings allow ({odds})."
    if detector == FRESH_IDENTITIES:
        return (f"Rigging: part of a surge of votes for {model} from fresh identities "
                f"(voters with at most {FRESH_VOTES} votes; {odds}).")
    return f"Rigging: {detector}."

"""Who cast a vote, as far as the arena can tell: votes grouped into *actors*.

A script that throws its cookie away after every vote looks like many small clients, each too
small to test. So votes are pooled over everything that identifies one actor: votes that share
any identity (the browser's cookie, the voter's address — an IPv6 /64 — a signed-in user, or the
cookie's *lineage*: cookies issued to one address within a short window) belong to one actor, and
so do, transitively, all votes linked to those. Identities are plain values per vote; an empty
value links nothing, so a new identity (a user column) is one more array.

Pooling honest people behind one address (a campus NAT) costs the tests some power but no false
alarms: an honest crowd votes like the ratings, whoever is in it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

LINEAGE_WINDOW_SECONDS = 3600.0


def actor_index(*identities: np.ndarray) -> np.ndarray:
    """Per vote, the index (0..A-1) of its actor: the connected parts of the graph linking each
    vote to each of its non-empty identity values. Each identity is an array with one value per
    vote; "" (or None) links nothing."""
    n = len(identities[0]) if identities else 0
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    rows, cols, offset = [], [], n
    for values in identities:
        values = np.asarray(values, dtype=object)
        present = np.flatnonzero([v is not None and v != "" for v in values])
        if not len(present):
            continue
        _, node = np.unique(values[present].astype(str), return_inverse=True)
        rows.append(present)
        cols.append(offset + node)
        offset += int(node.max()) + 1
    if not rows:
        return np.arange(n, dtype=np.int64)
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(offset, offset))
    _, label = connected_components(graph, directed=False)
    _, actor = np.unique(label[:n], return_inverse=True)
    return actor.astype(np.int64)


def cookie_lineage(origin: np.ndarray, issued_at: np.ndarray, *,
                   window: float = LINEAGE_WINDOW_SECONDS) -> np.ndarray:
    """Per vote, a label of its cookie's lineage: cookies issued to the same address (``origin``)
    less than ``window`` seconds after the previous one issued there share a label (chained, so a
    cookie every few minutes for an hour is one lineage). ``issued_at`` in seconds; "" origin: no
    lineage (a cookie from before lineages were recorded)."""
    origin = np.asarray(origin, dtype=object).astype(str)
    issued_at = np.asarray(issued_at, dtype=np.float64)
    labels = np.full(len(origin), "", dtype=object)
    known = np.flatnonzero(origin != "")
    if not len(known):
        return labels
    order = known[np.lexsort((issued_at[known], origin[known]))]
    o, t = origin[order], issued_at[order]
    new_run = np.ones(len(order), dtype=bool)
    new_run[1:] = (o[1:] != o[:-1]) | (t[1:] - t[:-1] >= window)
    run = np.cumsum(new_run)
    labels[order] = [f"{a}#{r}" for a, r in zip(o, run)]
    return labels

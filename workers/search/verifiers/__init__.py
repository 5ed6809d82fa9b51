"""Verifiers score candidates in [0, 1]; a search combines them by weighted mean.

Each verifier sees the whole candidate set at once, because the useful ones are
batched (one forward pass, one embedding batch) or relative (consensus, reward).
0.5 means "no opinion", so a verifier that cannot judge a candidate does not move it.
"""

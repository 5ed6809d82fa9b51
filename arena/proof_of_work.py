"""A small cost per anonymous vote: a SHA-256 hashcash bound to the battle, solved by the page.

The challenge is ``<battle uuid>.<expiry>.<mac>``, the mac a salted HMAC of the rest under
SECRET_KEY, so the server keeps no state and a challenge cannot be made for another battle or
outlive its expiry. The proof is ``<challenge>.<nonce>`` whose SHA-256 starts with
``ARENA["VOTE_PROOF_BITS"]`` zero bits: about 2**bits hashes to find, one to check. A person's
browser finds it in a fraction of a second (static/arena/battle.js, with crypto.subtle); a script
pays it for every vote it casts. Native code hashes faster than a page, so this is a cost per
vote, not a wall: the caps and the anomaly checks do the rest.
"""

import hashlib
import hmac
import time
from uuid import UUID

from django.conf import settings
from django.utils.crypto import salted_hmac

SALT = "arena.proof_of_work"
TTL_SECONDS = 24 * 3600


def challenge_for(battle_uuid: UUID | str, *, now: float | None = None) -> dict | None:
    """The challenge the page solves before voting on this battle; None when proofs are off."""
    bits = settings.ARENA["VOTE_PROOF_BITS"]
    if bits <= 0:
        return None
    # The same challenge all day (a page that polls the battle keeps solving one), valid 1 to 2 days.
    expires = (int(now if now is not None else time.time()) // TTL_SECONDS + 2) * TTL_SECONDS
    body = f"{battle_uuid}.{expires}"
    return {"challenge": f"{body}.{_mac(body)}", "bits": bits}


def is_valid(proof: str, battle_uuid: UUID | str, *, now: float | None = None) -> bool:
    """Whether ``proof`` is a solved, unexpired challenge of this battle (always true when proofs are off)."""
    bits = settings.ARENA["VOTE_PROOF_BITS"]
    if bits <= 0:
        return True
    parts = (proof or "").split(".")
    if len(parts) != 4 or not parts[1].isdigit() or not parts[3].isdigit() or len(parts[3]) > 20:
        return False
    uuid, expires, mac, _nonce = parts
    body = f"{uuid}.{expires}"
    if uuid != str(battle_uuid) or int(expires) < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(mac, _mac(body)) and leading_zero_bits(proof) >= bits


def solve(challenge: str, bits: int) -> str:
    """The proof for a challenge, as a script (or a test) finds it."""
    nonce = 0
    while leading_zero_bits(f"{challenge}.{nonce}") < bits:
        nonce += 1
    return f"{challenge}.{nonce}"


def leading_zero_bits(text: str) -> int:
    digest = int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")
    return 256 - digest.bit_length()


def _mac(body: str) -> str:
    return salted_hmac(SALT, body, algorithm="sha256").hexdigest()[:32]

"""Who is asking: a random id kept in the (signed-cookie) session, so votes bind to a browser."""

import secrets

SESSION_KEY = "arena_client"


def client_id(request) -> str:
    value = request.session.get(SESSION_KEY)
    if not isinstance(value, str) or len(value) != 32:
        value = secrets.token_hex(16)
        request.session[SESSION_KEY] = value
    return value

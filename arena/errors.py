class ArenaError(Exception):
    """A refusal with a sentence for the user; ``status`` is the HTTP status the API answers."""

    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Invalid(ArenaError):
    status = 422


class TooLarge(ArenaError):
    status = 413


class Forbidden(ArenaError):
    status = 403


class NotFound(ArenaError):
    status = 404


class Conflict(ArenaError):
    status = 409


class Unavailable(ArenaError):
    status = 503

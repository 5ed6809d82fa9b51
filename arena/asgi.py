"""The ASGI entry point (uvicorn).

Two changes to Django's handler, both about threads under load:

- It serves the settings' middleware through versions that run their hooks on the event loop
  (arena/middleware.py); the settings keep Django's names, which ``check --deploy`` looks for.
- Django gives each request a thread of its own for its sync code (signal receivers, closing the
  response, sync views). asgiref starts that thread, and a second one to join it, from the event
  loop for every request, and starting a thread waits for the GIL: under load the loop stalled
  there, and the more requests waited the more threads it started. Here a fixed set of threads
  serves them: a request's sync code all runs on one thread, as Django expects, which it may share
  with other requests (as it did on asgiref's single shared thread before per-request threads).
"""

import os
from concurrent.futures import ThreadPoolExecutor

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
django.setup(set_prefix=False)

from asgiref.sync import ThreadSensitiveContext  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402

from arena.middleware import ON_THE_LOOP  # noqa: E402

REQUEST_THREADS = 16  # each may keep a database connection for the sync views it serves


class ArenaASGIHandler(ASGIHandler):
    def __init__(self):
        super().__init__()
        self.threads = [ThreadPoolExecutor(max_workers=1, thread_name_prefix="request") for _ in range(REQUEST_THREADS)]
        self.requests_on = [0] * REQUEST_THREADS

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        least_busy = min(range(REQUEST_THREADS), key=self.requests_on.__getitem__)
        self.requests_on[least_busy] += 1
        try:
            async with ThreadSensitiveContext(executor=self.threads[least_busy]):
                await self.handle(scope, receive, send)
        finally:
            self.requests_on[least_busy] -= 1


settings.MIDDLEWARE = [ON_THE_LOOP.get(path, path) for path in settings.MIDDLEWARE]
application = ArenaASGIHandler()

"""The ASGI entry point (uvicorn).

Two changes to Django's handler, both about threads under load:

- It serves the settings' middleware through versions that run their hooks on the event loop
  (arena/middleware.py); the settings keep Django's names, which ``check --deploy`` looks for.
- Django gives each request a thread of its own for its sync code (signal receivers, closing the
  response, sync views). asgiref starts that thread, and a second one to join it, from the event
  loop for every request, and starting a thread waits for the GIL: under load the loop stalled
  there. Here the per-request threads are kept and handed to later requests instead; each still
  serves one request at a time, so thread-sensitive code sees what it expects.
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

KEEP_IDLE_THREADS = 64


class ArenaASGIHandler(ASGIHandler):
    def __init__(self):
        super().__init__()
        self.idle: list[ThreadPoolExecutor] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self.idle.pop() if self.idle else ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            if len(self.idle) < KEEP_IDLE_THREADS:
                self.idle.append(executor)
            else:  # after a burst: the thread ends once its work is done; nothing waits for it
                executor.shutdown(wait=False)


settings.MIDDLEWARE = [ON_THE_LOOP.get(path, path) for path in settings.MIDDLEWARE]
application = ArenaASGIHandler()

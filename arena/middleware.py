"""The middleware chain, able to run on the event loop under ASGI.

A middleware that is sync only makes Django run the rest of the chain, and the async views, on a
thread started for each request; Django's own middleware, though async-capable, still send each of
their hooks to that thread (about a dozen hops a request), and under load every hop waits its turn
for the GIL. The hooks used here do no I/O (sessions and messages live in signed cookies), so they
run on the loop; blocking work stays on threads.
"""

from collections.abc import Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as DjangoMessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware as DjangoXFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware as DjangoCommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware as DjangoCsrfViewMiddleware
from django.middleware.security import SecurityMiddleware as DjangoSecurityMiddleware
from django.template.response import SimpleTemplateResponse
from whitenoise.middleware import WhiteNoiseMiddleware


def _sessions_in_cookies() -> bool:
    return settings.SESSION_ENGINE == "django.contrib.sessions.backends.signed_cookies"


def on_the_loop(middleware: type, *, safe: Callable[[], bool] = lambda: True) -> type:
    """Django's ``middleware`` with its hooks called straight from the event loop in async mode, as
    long as ``safe()`` says they do no I/O; otherwise it behaves exactly as Django's."""

    class OnTheLoop(middleware):
        def __init__(self, get_response):
            super().__init__(get_response)
            self.inline = self.async_mode and safe()
            if self.inline and hasattr(self, "process_view"):
                process_view = self.process_view

                async def on_loop(request, view, args, kwargs):
                    return process_view(request, view, args, kwargs)

                self.process_view = on_loop  # Django adapts the hook once, when it loads the chain

        async def __acall__(self, request):
            if not self.inline:
                return await super().__acall__(request)
            response = self.process_request(request) if hasattr(self, "process_request") else None
            response = response or await self.get_response(request)
            if hasattr(self, "process_response"):
                response = self.process_response(request, response)
            return response

    OnTheLoop.__name__ = OnTheLoop.__qualname__ = middleware.__name__
    OnTheLoop.__doc__ = middleware.__doc__
    return OnTheLoop


SecurityMiddleware = on_the_loop(DjangoSecurityMiddleware)
SessionMiddleware = on_the_loop(DjangoSessionMiddleware, safe=_sessions_in_cookies)
CommonMiddleware = on_the_loop(DjangoCommonMiddleware)
CsrfViewMiddleware = on_the_loop(DjangoCsrfViewMiddleware, safe=_sessions_in_cookies)
AuthenticationMiddleware = on_the_loop(DjangoAuthenticationMiddleware)  # request.user stays lazy
MessageMiddleware = on_the_loop(DjangoMessageMiddleware, safe=_sessions_in_cookies)
XFrameOptionsMiddleware = on_the_loop(DjangoXFrameOptionsMiddleware)


# What arena/asgi.py serves in place of each middleware of the settings.
ON_THE_LOOP = {
    "django.middleware.security.SecurityMiddleware": "arena.middleware.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware": "arena.middleware.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware": "arena.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware": "arena.middleware.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware": "arena.middleware.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware": "arena.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware": "arena.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware": "arena.middleware.XFrameOptionsMiddleware",
}


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, which is sync only, able to run in async mode too."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        super().__init__(get_response)
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request):
        if self.autorefresh:  # development: looks on disk
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)


class BothModes:
    """A middleware that runs in the server's own mode, sync or async."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        return self.after(request, self.get_response(request))

    async def _acall(self, request):
        return self.after(request, await self.get_response(request))

    def after(self, request, response):
        """Change the response; must not block (it runs on the event loop under ASGI)."""
        return response


class DatabaseOutageMiddleware(BothModes):
    """While PostgreSQL is down, answer 503 with a sentence instead of a 500; recovery needs nothing."""

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        message = "The database is unavailable; try again shortly."
        if request.path.startswith("/api/") or request.path.startswith("/v1/"):
            return JsonResponse({"detail": message}, status=503)
        response = SimpleTemplateResponse("arena/unavailable.html", {"message": message}, status=503)
        return response.render()


class ContentSecurityPolicyMiddleware(BothModes):
    """No inline script anywhere: scripts and styles come from our own static files."""

    POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
              "frame-ancestors 'none'; form-action 'self'")

    # Plotly injects its own <style> element; inline styles (never scripts) are allowed on that page only.
    CHART_POLICY = POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")

    def after(self, request, response):
        if not request.path.startswith("/admin/"):
            policy = self.CHART_POLICY if request.path.startswith("/leaderboard/") else self.POLICY
            response.setdefault("Content-Security-Policy", policy)
        return response

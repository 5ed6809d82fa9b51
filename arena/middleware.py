from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.template.response import SimpleTemplateResponse


class DatabaseOutageMiddleware:
    """While PostgreSQL is down, answer 503 with a sentence instead of a 500; recovery needs nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        message = "The database is unavailable; try again shortly."
        if request.path.startswith("/api/") or request.path.startswith("/v1/"):
            return JsonResponse({"detail": message}, status=503)
        response = SimpleTemplateResponse("arena/unavailable.html", {"message": message}, status=503)
        return response.render()


class ContentSecurityPolicyMiddleware:
    """No inline script anywhere: scripts and styles come from our own static files."""

    POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
              "frame-ancestors 'none'; form-action 'self'")

    # Plotly injects its own <style> element; inline styles (never scripts) are allowed on that page only.
    CHART_POLICY = POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/admin/"):
            policy = self.CHART_POLICY if request.path.startswith("/leaderboard/") else self.POLICY
            response.setdefault("Content-Security-Policy", policy)
        return response

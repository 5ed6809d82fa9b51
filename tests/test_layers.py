"""The layer rules of the README's Architecture section, checked from the code's own imports
(every import statement, at the top of a module or inside a function)."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("arena", "ratings", "workers")

# Pure code: numbers and text in, numbers and text out; it runs without Django, Celery or a database.
CORE = ("workers.engine", "workers.search", "workers.params")
RATING_MATH = ("ratings.actors", "ratings.battle_arrays", "ratings.battle_files", "ratings.bradley_terry",
               "ratings.categories", "ratings.elo", "ratings.features", "ratings.intervals", "ratings.leaderboard",
               "ratings.lmsys", "ratings.matrices", "ratings.p2l", "ratings.pair_sampling", "ratings.style",
               "ratings.synthetic", "ratings.ties", "ratings.vote_surprise")
# What answers a browser: nothing below it (services, workers, rating queries) may import it.
WEB = ("arena.api", "arena.views", "arena.urls", "arena.asgi", "arena.middleware", "arena.admin", "arena.streaming",
       "arena.presenters", "arena.openai_api", "ratings.views", "ratings.presenters",
       "ratings.admin")
FRAMEWORKS = ("django", "celery", "ninja", "redis", "psycopg")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


def _imports(name: str, path: Path) -> set[str]:
    """Every module this one imports, relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _violations(rule) -> list[str]:
    return sorted(f"{name} imports {target}" for name, path in _modules().items()
                  for target in _imports(name, path) if rule(name, target))


def test_core_code_imports_no_framework_and_nothing_of_the_apps():
    def breaks(name, target):
        if not _within(name, CORE):
            return False
        return _within(target, FRAMEWORKS) or (_within(target, PACKAGES) and not _within(target, CORE))
    assert _violations(breaks) == []


def test_rating_math_imports_only_rating_math():
    def breaks(name, target):
        if not _within(name, RATING_MATH):
            return False
        if name == "ratings.categories" and target in ("django.db.models", "django.db.models.Q"):
            return False  # a category's SQL filter is a Q: a description, no database
        return _within(target, FRAMEWORKS) or (_within(target, PACKAGES) and not _within(target, RATING_MATH))
    assert _violations(breaks) == []


def test_nothing_below_the_web_layer_imports_it():
    def breaks(name, target):
        return _within(target, WEB) and not _within(name, WEB) and not name.startswith(("arena.management",
                                                                                       "ratings.management"))
    assert _violations(breaks) == []


def test_workers_reach_the_arena_only_through_its_domain_modules():
    domain = ("arena.models", "arena.events", "arena.identity", "arena.codepoints", "arena.jobs", "arena.redis_keys",
              "arena.redis_client")

    def breaks(name, target):
        # `from arena import events` names the package itself first
        return _within(name, ("workers",)) and _within(target, ("arena",)) and target != "arena" \
            and not _within(target, domain)
    assert _violations(breaks) == []


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"DJANGO_SETTINGS_MODULE": "arena.settings", "PATH": "/usr/bin:/bin"})


def test_the_engine_and_search_load_without_django_or_celery():
    result = _run("import sys, workers.engine, workers.search; "
                  "print(sorted(m for m in ('django', 'celery') if m in sys.modules))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_web_process_never_loads_torch():
    result = _run("import sys, django; django.setup(); import arena.urls, arena.asgi; print('torch' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"

"""The leaderboard page of a new arena: preliminary badges on ratings from few votes, models without
a win and a loss listed as not enough data; the history, every chart drawn offline with axis titles
and whole labels in light and dark mode, sorting from the keyboard, deprecated models, and links
that keep every setting, the leaderboard for a prompt (screenshots for the README)."""

import csv
import io
import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from arena.models import ModelEndpoint
from ratings.snapshots import recompute
from tests.browser.conftest import DESKTOP
from tests.browser.test_pages import SCREENSHOTS
from tests.ratings.helpers import (
    TOPIC_STRENGTHS,
    import_topic_votes,
    import_votes,
    publish_history,
    small_arena_votes,
    trained_head,
)


def test_it_marks_preliminary_ratings_and_models_without_enough_data(page, arena_db, tmp_path):
    import_votes(tmp_path / "votes.jsonl", small_arena_votes(50))
    recompute()
    page.goto("/leaderboard/")
    rated = page.locator("table.leaderboard").first
    for model in ("alpha", "beta", "gamma"):
        expect(rated.get_by_role("row", name=model)).to_contain_text("preliminary")
    expect(rated).not_to_contain_text("delta")
    unrated = page.get_by_role("region", name="Not enough data yet")
    expect(unrated.get_by_role("row", name="delta")).to_contain_text("not enough data")
    expect(unrated).to_contain_text("has not lost a vote yet")
    expect(page.locator("#freshness")).to_contain_text("50 votes counted")
    expect(page.locator("#chart-ratings .main-svg").first).to_be_visible()  # Plotly drew it, offline
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=SCREENSHOTS / "leaderboard-preliminary.png", full_page=False)


CHARTS = ("chart-history", "chart-ratings", "chart-compute", "chart-wins", "chart-counts", "chart-average")
WORDS_DATE = re.compile(r"\d{1,2} (January|February|March|April|May|June|July|August|September|October|November|"
                        r"December) \d{4}, \d\d:\d\d UTC")


def _outside_requests(page, web: str) -> list[str]:
    """Refuse every request that leaves the arena's own server; the returned list fills with them."""
    refused = []

    def handle(route):
        if route.request.url.startswith(web):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()
    page.route("**/*", handle)
    return refused


def _clipped_labels(page, chart: str) -> list[str]:
    """Tick labels and axis titles of a chart that reach outside its drawing."""
    return page.evaluate("""(id) => {
      const root = document.getElementById(id);
      const box = root.querySelector(".main-svg").getBoundingClientRect();
      return Array.from(root.querySelectorAll(".xtick text, .ytick text, .g-xtitle text, .g-ytitle text"))
        .filter((t) => t.textContent.trim())
        .filter((t) => { const r = t.getBoundingClientRect();
                         return r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1
                                || r.bottom > box.bottom + 1; })
        .map((t) => t.textContent);
    }""", chart)


def test_every_chart_renders_offline_with_axis_titles_and_whole_labels(page, web, arena_db, tmp_path):
    publish_history(tmp_path)
    refused = _outside_requests(page, web)
    page.goto("/leaderboard/?since=2026-03-01")
    for chart in CHARTS:
        expect(page.locator(f"#{chart} .main-svg").first).to_be_visible()
        for title in ("g-xtitle", "g-ytitle"):
            expect(page.locator(f"#{chart} .{title}")).to_have_text(re.compile(r"\w"))
        assert _clipped_labels(page, chart) == [], chart
    assert page.locator("#chart-history .scatterlayer .trace").count() == 3  # alpha, beta and gamma over time
    expect(page.locator("#freshness time")).to_have_text(WORDS_DATE)
    assert refused == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=SCREENSHOTS / "leaderboard-history.png", full_page=True)


def test_dark_mode_charts_take_the_page_colours_and_zero_counts_are_not_red(browser, web, arena_db, tmp_path):
    publish_history(tmp_path)
    context = browser.new_context(base_url=web, viewport=DESKTOP, color_scheme="dark", reduced_motion="reduce")
    try:
        page = context.new_page()
        page.goto("/leaderboard/")
        expect(page.locator("#chart-counts .main-svg").first).to_be_visible()
        colours = page.evaluate("""() => {
          const css = getComputedStyle(document.documentElement);
          const grid = document.querySelector("#chart-ratings .gridlayer path");
          const probe = document.createElement("div");
          document.body.append(probe);
          const rgb = (value) => { probe.style.color = value; return getComputedStyle(probe).color; };
          return { line: rgb(css.getPropertyValue("--line").trim()), grid: getComputedStyle(grid).stroke,
                   card: rgb(css.getPropertyValue("--card").trim()),
                   zero: rgb(document.getElementById("chart-counts").data[0].colorscale[0][1]),
                   text: getComputedStyle(document.querySelector("#chart-ratings .g-ytitle text")).fill,
                   fg: rgb(css.getPropertyValue("--fg").trim()) };
        }""")
        assert colours["grid"] == colours["line"] != "rgb(255, 255, 255)"
        assert colours["zero"] == colours["card"] and colours["text"] == colours["fg"]
    finally:
        context.close()


def _column(page, index: int) -> list[str]:
    """The values a column's cells sort by (a model's cell also holds its badges)."""
    return page.locator(f"#leaderboard-table tbody tr td:nth-child({index})").evaluate_all(
        "(cells) => cells.map((cell) => cell.dataset.value)")


def test_columns_sort_from_the_keyboard(page, arena_db, tmp_path):
    publish_history(tmp_path)
    page.goto("/leaderboard/")
    votes = page.get_by_role("columnheader", name="Votes")
    votes.get_by_role("button").focus()
    page.keyboard.press("Enter")
    expect(votes).to_have_attribute("aria-sort", "ascending")
    ascending = [int(v) for v in _column(page, 5)]
    assert ascending == sorted(ascending)
    page.keyboard.press("Enter")
    expect(votes).to_have_attribute("aria-sort", "descending")
    descending = [int(v) for v in _column(page, 5)]
    assert descending == sorted(ascending, reverse=True)
    page.get_by_role("columnheader", name="Model").get_by_role("button").press("Space")
    assert _column(page, 2) == ["alpha", "beta", "gamma"]
    expect(page.get_by_role("columnheader", name="Votes")).not_to_have_attribute("aria-sort", re.compile("."))


def test_deprecated_models_are_hidden_until_asked_for(page, arena_db, tmp_path):
    publish_history(tmp_path)
    ModelEndpoint.objects.filter(name="gamma").update(retired=True)
    page.goto("/leaderboard/")
    table = page.locator("#leaderboard-table")
    expect(table).not_to_contain_text("gamma")
    expect(page.locator("#deprecated-note")).to_contain_text("1 deprecated model hidden")
    page.get_by_label("Show deprecated models").check()
    page.get_by_role("button", name="Show", exact=True).click()
    expect(table.get_by_role("row", name=re.compile("gamma"))).to_contain_text("deprecated")
    expect(page.locator("#deprecated-note")).to_have_count(0)


def test_the_download_links_and_tabs_keep_every_setting(page, arena_db, tmp_path):
    publish_history(tmp_path)
    page.goto("/leaderboard/")
    page.get_by_label("Minimum votes").fill("5")
    page.get_by_label("Style control").check()
    page.get_by_label("Show deprecated models").check()
    page.get_by_label("As of").fill("2026-04-01")
    page.get_by_label("Rank change since").fill("2026-03-01")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.locator("#since-note")).to_contain_text(
        "in force at 1 March 2026, 23:59 UTC (published 1 March 2026, 12:00 UTC)")
    expect(page.locator("#freshness")).to_contain_text("As it stood at 1 April 2026, 23:59 UTC: published 1 April 2026")
    chosen = {"arena": ["text"], "category": ["overall"], "min_votes": ["5"], "style_control": ["1"],
              "show_deprecated": ["1"], "at": ["2026-04-01"], "since": ["2026-03-01"]}
    csv_url = page.locator("#csv-link").get_attribute("href")
    assert parse_qs(urlsplit(csv_url).query) == {**chosen, "format": ["csv"]}
    assert parse_qs(urlsplit(page.locator("#json-link").get_attribute("href")).query) == chosen
    code_tab = page.get_by_role("navigation", name="Categories").get_by_role("link", name="Code")
    assert parse_qs(urlsplit(code_tab.get_attribute("href")).query) == {**chosen, "category": ["code"]}
    assert "/api/" not in code_tab.get_attribute("href")
    shown = _column(page, 3)  # rank, rank change, model
    downloaded = list(csv.DictReader(io.StringIO(page.request.get(csv_url).text())))
    assert [r["model"] for r in downloaded] == shown
    board = page.request.get(page.locator("#json-link").get_attribute("href")).json()
    assert board["total_votes"] == 120 and board["style_control"] is True and board["since"] is not None
    assert [r["model"] for r in board["rows"]] == shown


def test_style_control_says_what_it_controls_for_and_how_far_it_moved_each_model(page, arena_db, tmp_path):
    publish_history(tmp_path)
    page.goto("/leaderboard/")
    note = page.locator("#style-note")
    expect(note).to_contain_text("answer length and the number of headers, lists, bold passages and citations")
    expect(page.get_by_role("columnheader", name="Style change")).to_have_count(0)
    page.get_by_label("Style control").check()
    page.get_by_role("button", name="Show", exact=True).click()
    expect(note).to_contain_text("how far it moved each model")
    board = page.request.get(page.locator("#json-link").get_attribute("href")).json()
    assert board["style_control"] and board["style_fitted"]
    changes = {r["model"]: r["style_change"] for r in board["rows"]}
    assert {r["model"]: round(r["style_rating"] - r["rating"], 1) for r in board["rows"]} == changes
    header = page.get_by_role("columnheader", name="Style change")
    column = 1 + page.locator("#leaderboard-table thead th").evaluate_all(
        "(cells) => cells.findIndex((c) => c.textContent.includes('Style change'))")
    assert header.count() == 1
    assert dict(zip(_column(page, 2), map(float, _column(page, column)), strict=True)) == changes


def test_the_leaderboard_for_a_prompt_comes_from_the_published_head_without_intervals(page, serving, arena_db,
                                                                                      tmp_path):
    import_topic_votes(tmp_path, TOPIC_STRENGTHS)
    assert trained_head().published
    page.goto("/leaderboard/")
    expect(page.locator("#p2l-verdict")).to_contain_text("published, so it answers the leaderboard for a prompt")
    page.get_by_label("Your prompt").fill("What is 314 times 27?")
    page.get_by_role("button", name="Rank models for this prompt").click()
    board = page.locator("#for-prompt-table")
    expect(board.locator("tbody tr").first).to_contain_text("solver")
    expect(board.locator("tbody tr")).to_have_count(3)
    expect(board.locator("tbody tr").first.locator("td").nth(2)).to_have_text("–")
    expect(page.locator("#for-prompt-status")).to_contain_text("prompt-to-leaderboard head")
    expect(page.locator("#for-prompt-status")).to_contain_text("no intervals")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 640})
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # the box is the page's last section
    page.screenshot(path=SCREENSHOTS / "leaderboard-for-prompt.png", full_page=False)

"""The leaderboard page of a new arena: preliminary badges on ratings from few votes, models without
a win and a loss listed as not enough data, and the charts drawn offline (a screenshot for the README)."""

from playwright.sync_api import expect

from ratings.snapshots import recompute
from tests.browser.test_pages import SCREENSHOTS
from tests.ratings.helpers import import_votes, small_arena_votes


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

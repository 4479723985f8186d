"""The board shows what cards cost (issue 13): each card its cost over all runs (from its
``run:`` line while no run is live), the top bar today's total once prices are configured; a
card without a known cost shows tokens only."""

from __future__ import annotations

from tests.helpers import screen_text
from tests.tui.conftest import card


async def test_cards_show_their_cost_and_the_top_bar_todays_total(tmp_path, make_test_app):
    board = tmp_path / "board"
    board.mkdir()
    (board / "kanban.toml").write_text('[pricing."gpt-4o-mini"]\ninput = 0.15\noutput = 0.6\n')
    (board / "priced.md").write_text(card("Priced card", "review", 1000,
        "run: {state: review, n: 2, tokens: 2200, cost: 0.0421}\n"))  # fmt: skip
    (board / "unpriced.md").write_text(card("Unpriced card", "review", 2000,
        "run: {state: review, n: 1, tokens: 3100}\n"))  # fmt: skip
    app = make_test_app(board)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        text = screen_text(app)
    assert "r2 2.2k $0.04" in text
    assert "r1 3.1k" in text and "r1 3.1k $" not in text  # tokens only, never a made-up price
    assert "$0.00 today" in text.splitlines()[0]


async def test_without_prices_the_top_bar_shows_no_cost(sample_board, make_test_app):
    app = make_test_app(sample_board)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        assert "today" not in screen_text(app).splitlines()[0]

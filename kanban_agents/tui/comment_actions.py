"""Line comments from the Diff tab: what the reviewer wrote goes to the session (off the UI
thread, through the panel feed), and each card shows its pending comments as ``✎ N``."""

from __future__ import annotations

from collections.abc import Sequence

from .diff_view import DiffView


class CommentActions:
    """Mixed into ``KanbanApp``; uses its session, feed and board."""

    comment_counts: dict[str, int]  # pending comments per card (the ``✎ N`` badge)

    def load_comment_counts(self) -> None:
        """Every card's pending comments, read once after start (a glob and a small file a card)."""
        self.run_worker(self._load_comment_counts, thread=True, group="comment-counts",
                        exclusive=True, exit_on_error=False)  # fmt: skip

    def _load_comment_counts(self) -> None:
        counts = self.session.pending_comment_counts()
        self.call_from_thread(self._set_comment_counts, counts)

    def _set_comment_counts(self, counts: dict[str, int]) -> None:
        if counts != self.comment_counts:
            self.comment_counts = counts
            self.refresh_board()

    def set_comment_count(self, card_id: str, comments: Sequence) -> None:
        """The card's comments as just read: its badge follows."""
        pending = sum(1 for c in comments if c.status == "pending")
        if self.comment_counts.get(card_id, 0) != pending:
            self._set_comment_counts({**self.comment_counts, card_id: pending})

    def on_diff_view_comment_written(self, message: DiffView.CommentWritten) -> None:
        anchor, text, comment_id = message.anchor, message.text, message.comment_id
        card_id = message.card_id

        def write(session) -> None:
            if comment_id is None:
                session.add_comment(card_id, anchor.path, anchor.line, text, quote=anchor.quote)
            else:
                session.edit_comment(card_id, comment_id, text)

        self.feed.save_comment(card_id, write)

    def on_diff_view_comment_removed(self, message: DiffView.CommentRemoved) -> None:
        card_id, comment_id = message.card_id, message.comment_id
        self.feed.save_comment(card_id, lambda session: session.remove_comment(card_id, comment_id))

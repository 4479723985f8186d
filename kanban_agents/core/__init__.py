"""The domain: cards, board, git worktrees, agent runs, review. Never imports Textual."""

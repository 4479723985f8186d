"""Pictures of the board drawn with Rich, for the terminal and for the TUI. Never imports Textual."""

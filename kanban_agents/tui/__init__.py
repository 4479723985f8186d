"""The Textual view of the board: renders core state, sends intents. No git, no file writes."""

"""The built-in agent and the command agent."""

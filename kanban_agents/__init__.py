"""kanban-agents: a terminal kanban board whose in-progress cards are worked by coding agents."""

__version__ = "0.1.0"

"""The one error that ends a run as ``failed``: raised by the workspace, the agent session and the
manager alike, caught once by the manager."""


class RunError(Exception):
    """Ends a run as ``failed``; the message is the reason shown on the card."""

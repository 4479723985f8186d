"""Agent runs, one module per concern:

- ``admission``: the queue, ``depends_on``, declared-file overlaps, the concurrency limit;
- ``workspace``: the run's worktree, copied files, setup commands, and the ``Runtime`` that runs
  its commands (the seam for sandboxed and remote runtimes);
- ``manager``: ``RunManager``, a run's lifecycle from admission to review, and recovery;
- ``errors``: ``RunError``.

The agent's own part (resume, review feedback, the test-retry stopping rule) is
``core/agent/session.py``, next to the loop it drives.
"""

from .admission import Admission, Decision, Verdict
from .errors import RunError
from .manager import HOST_CHECK_INTERVAL, RunManager, log_subscriber_error
from .workspace import LocalRuntime, Runtime, Workspace, Workspaces

__all__ = [
    "HOST_CHECK_INTERVAL",
    "Admission",
    "Decision",
    "LocalRuntime",
    "RunError",
    "RunManager",
    "Runtime",
    "Verdict",
    "Workspace",
    "Workspaces",
    "log_subscriber_error",
]

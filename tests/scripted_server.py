"""The tests' scripted OpenAI-compatible HTTP server.

It lives in the package (``kanban_agents/core/agent/scripted_server.py``) because
``kanban-agents demo`` serves its scripted demo model with it too; tests import it from here or
from there. Real sockets on 127.0.0.1; streaming SSE with ``tool_calls`` deltas and non-streaming
answers; a per-test script of turns (replies, HTTP errors, dropped streams, delays) or a
responder function; every request recorded. Its own tests: ``tests/core/test_scripted_server.py``.
"""

from kanban_agents.core.agent.scripted_server import (  # noqa: F401
    EXHAUSTED_MESSAGE,
    DropStream,
    HttpError,
    Reply,
    ScriptedServer,
    ToolCallSpec,
)

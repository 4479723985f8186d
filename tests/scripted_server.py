"""The tests' scripted OpenAI-compatible HTTP server.

It lives in the package (``kanban_agents/core/agent/scripted_server.py``) because
``kanban-agents demo`` serves its scripted demo model with it too; tests import it from here or
from there. Real sockets on 127.0.0.1; streaming SSE with ``tool_calls`` deltas and non-streaming
answers; a per-test script of turns (replies, HTTP errors, dropped, cut or garbled streams,
delays) or a responder function; dialects of real servers (llama-cpp-python, Ollama, vLLM);
every request recorded. Its own tests: ``tests/core/test_scripted_server.py``.
"""

from kanban_agents.core.agent.scripted_server import (  # noqa: F401
    DIALECTS,
    EXHAUSTED_MESSAGE,
    NULL_CONTENT_ERROR,
    VLLM_NO_TOOL_PARSER,
    Dialect,
    DropStream,
    EndStream,
    Garbage,
    HttpError,
    Reply,
    ScriptedServer,
    ToolCallSpec,
)

"""The model client's TLS context is built once a process and shared: each run's client talks
to the server through it, and closing one run's client leaves the others working."""

from __future__ import annotations

from kanban_agents.core.agent.model_client import async_openai, prewarm, shared_tls_context
from kanban_agents.core.agent.scripted_server import Reply, ScriptedServer


async def test_clients_share_one_tls_context_and_outlive_each_other():
    prewarm()
    context = shared_tls_context()
    assert shared_tls_context() is context
    with ScriptedServer([Reply(text="one"), Reply(text="two")]) as server:
        first = async_openai(api_key="x", base_url=server.base_url, timeout=30)
        second = async_openai(api_key="x", base_url=server.base_url, timeout=30)
        message = [{"role": "user", "content": "hi"}]
        answer = await first.chat.completions.create(model="m", messages=message)
        assert answer.choices[0].message.content == "one"
        await first.close()
        answer = await second.chat.completions.create(model="m", messages=message)
        assert answer.choices[0].message.content == "two"
        await second.close()
    assert shared_tls_context() is context

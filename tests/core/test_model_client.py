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


async def test_a_board_with_a_warm_pool_makes_the_model_client_ready_before_any_start(
    repo, monkeypatch
):
    import asyncio

    from kanban_agents.core.agent import model_client
    from kanban_agents.core.board import BoardStore
    from kanban_agents.core.runs import RunManager, manager

    (repo / "board").mkdir()
    (repo / "board" / "kanban.toml").write_text("[worktrees]\npool = 1\n")
    monkeypatch.setattr(model_client, "_tls_context", None)
    monkeypatch.setattr(manager, "PREWARM_DELAY", 0.0)
    runs = RunManager(BoardStore.open(repo / "board"), environ={"PATH": "/usr/bin:/bin"})
    await runs.start()
    try:
        for _ in range(200):
            if model_client._tls_context is not None:
                break
            await asyncio.sleep(0.05)
        assert model_client._tls_context is not None  # no card started
    finally:
        await runs.stop()

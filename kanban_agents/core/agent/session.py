"""One run's agent session: what the agent is told, and when its work counts as done.

The built-in agent resumes its saved conversation (after an interruption, or with a reviewer's
notes when the card was sent back) or starts a new one from the card; each ``finish`` it calls
runs the card's tests, and failing tests go back to it until ``runs.test_attempts`` is spent (the
stopping rule, next to the loop in ``loop.py`` that obeys it). A command agent (codex, claude,
aider ...) runs once, then the tests decide. Either way a session ends with a summary, or
``RunError`` saying why the run failed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import git
from ..blocked import IdleWatch, RetryStreak
from ..card import Card
from ..events import (
    RUNNING,
    TESTING,
    AgentBlocked,
    Emitter,
    LogLine,
    Notice,
    ReviewerMessage,
    RunPhase,
    Sink,
    TestsFinished,
)
from ..records import RunRecords, RunState
from ..runs.errors import RunError

if TYPE_CHECKING:
    from ..runs.workspace import Runtime, Workspace

RESUME_NOTE = (
    "You were interrupted. Your earlier changes are still in the worktree; continue where you left "
    "off, then call finish(summary)."
)


def default_model_factory(profile, environ, on_retry):
    from .model import OpenAIModel

    return OpenAIModel(profile, environ, on_retry=on_retry)


def make_model(
    model_factory: Callable[..., Any], profile, environ: Mapping[str, str], emit: Emitter
):
    """The profile's model, or ``RunError`` (a missing key fails the run before any git work)."""
    from .model import ModelError

    try:
        return model_factory(profile, environ,
                             on_retry=lambda text: emit(Notice, text=text, level="warning"))  # fmt: skip
    except ModelError as exc:
        raise RunError(exc.message) from None


def check_command(profile, environ: Mapping[str, str]) -> None:
    """``RunError`` unless the command agent's executable can be found."""
    executable = profile.command[0] if profile.command else ""
    path = environ.get("PATH", os.environ.get("PATH"))
    if not executable or (shutil.which(executable, path=path) is None and "/" not in executable):
        raise RunError(
            f"agent command {executable!r} was not found on PATH (profile {profile.name!r}); install it or "
            f"change [agents.{profile.name}] command in kanban.toml"
        )


class AgentSession:
    """The agent's part of one run of ``card`` in ``space``. ``set_state`` records and announces
    a state change of the run (testing, back to running after failed tests)."""

    def __init__(
        self,
        card: Card,
        space: Workspace,
        record: RunState,
        emit: Emitter,
        *,
        settings,
        records: RunRecords,
        runtime: Runtime,
        env: Mapping[str, str],
        scrub_env: Sequence[str],
        set_state: Callable[[RunPhase, str], None],
        publish: Sink,
        after_command: Callable[[], Awaitable[None]] | None = None,
        agent_env: Mapping[str, str] | None = None,
    ):
        self.card = card
        self.space = space
        self.record = record
        self.emit = emit
        self.settings = settings
        self.records = records
        self.runtime = runtime
        self.env = env
        self.scrub_env = scrub_env
        self.set_state = set_state
        self.publish = publish  # an event of this run, made here (the tests' outcome)
        # Checks after each command the agent runs (the review gate's ref check): raises RunError.
        self.after_command = after_command
        # A command agent's environment: ``env`` plus its own API key (None: ``env``).
        self.agent_env = agent_env

    # ------------------------------------------------------------------ the built-in agent

    def conversation(self) -> list[dict]:
        """The saved conversation with a note on why it goes on, or a new one from the card."""
        from .prompt import SYSTEM_PROMPT, card_prompt, review_prompt

        messages = repaired(self.records.load_messages(self.card.id))
        if messages:
            self.records.inbox(self.card.id).settle(messages, self.record.run)
        feedback = self.record.extra.pop("pending_feedback", None)
        if not messages:
            return [
                {"role": "system", "content": SYSTEM_PROMPT},
                {
                    "role": "user",
                    "content": card_prompt(self.card, self.space.path, self.space.branch),
                },
            ]
        note = review_prompt(feedback, self.record.review_round) if feedback else RESUME_NOTE
        messages.append({"role": "user", "content": note})
        self.emit(
            LogLine,
            text="continuing the earlier conversation" + (" with review notes" if feedback else ""),
        )
        return messages

    async def work_with_model(self, profile, model) -> str:
        from .loop import Agent, LimitExceeded, Limits
        from .model import ModelError
        from .tools import Toolbox

        runs = self.settings.runs
        toolbox = Toolbox(
            self.space.path,
            command_timeout=runs.command_timeout,
            output_cap=runs.output_cap,
            scrub_env=self.scrub_env,
            env=dict(self.env),
            runtime=self.runtime,
        )
        if self.after_command is not None:
            toolbox.call = self._checked_after_run(toolbox.call)
        from ..pricing import cost_of, earlier_cost

        messages = self.conversation()
        limits = Limits(
            profile.max_steps,
            profile.max_tokens,
            profile.max_wall_seconds,
            max_cost=self.max_cost(profile),
        )
        pricing = self.settings.pricing
        streak = RetryStreak(lambda why: self.emit(AgentBlocked, reason=why))
        retried = getattr(model, "on_retry", None)
        if retried is not None:  # OpenAIModel: its retries also count towards "blocked"
            model.on_retry = lambda text: (retried(text), streak.failed(text))

        def before_turn(history: list[dict]) -> None:
            streak.succeeded()  # the previous turn got its answer
            self.deliver_messages(history)

        agent = Agent(
            model,
            toolbox,
            limits,
            self.emit,
            self.tests_stop_or_retry(),
            checkpoint=lambda history: self.records.save_messages(self.card.id, history),
            before_turn=before_turn,
            price=lambda usage, model_name: cost_of(usage, model_name, pricing),
            cost_before=earlier_cost(self.record.extra, self.record.run),
            context_tokens=await self.context_tokens(profile, model),
        )
        try:
            return await agent.run(messages)
        except LimitExceeded as exc:
            raise RunError(str(exc)) from None
        except ModelError as exc:
            raise RunError(exc.message) from None
        finally:
            self.record.steps = agent.steps
            self.record.tokens = agent.prompt_tokens + agent.completion_tokens
            self.record.tokens_estimated = agent.usage_estimated
            self.record_cost(agent.cost)
            self.records.save_messages(self.card.id, messages)

    async def context_tokens(self, profile, model) -> int:
        """The profile's ``context_tokens``, else the model's context as its server reports it
        (vLLM, llama.cpp), else 128k."""
        from .context import DEFAULT_CONTEXT_TOKENS

        if profile.context_tokens:
            return profile.context_tokens
        advertised = getattr(model, "advertised_context", None)
        reported = await advertised() if advertised is not None else None
        if reported:
            self.emit(LogLine, text=f"context: the model server reports {reported} tokens")
        return reported or DEFAULT_CONTEXT_TOKENS

    def max_cost(self, profile) -> float | None:
        """The run's budget in dollars: the card's ``max_cost``, else the profile's."""
        value = self.card.meta.get("max_cost", profile.max_cost)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise RunError(
                f"max_cost in the card must be a number of dollars (like 0.50), not {value!r}"
            )
        return float(value)

    def record_cost(self, cost: float | None) -> None:
        from ..pricing import record_run_cost

        self.record.cost = cost
        record_run_cost(self.record.extra, self.record.run, cost)

    def deliver_messages(self, messages: list[dict]) -> None:
        """The reviewer's pending messages join the conversation as user messages, in the order
        sent; the conversation is saved before they are marked delivered (see ``inbox.py``)."""
        inbox = self.records.inbox(self.card.id)
        pending = inbox.pending()
        if not pending:
            return
        for message in pending:
            messages.append(message.as_user_message())
            self.emit(ReviewerMessage, text=message.text, message_id=message.id)
        self.records.save_messages(self.card.id, messages)
        inbox.mark_delivered([m.id for m in pending], self.record.run)

    def _checked_after_run(self, call):
        """``Toolbox.call``, followed by ``after_command`` once a ``run`` call is done (its
        RunError ends the run: the agent loop lets it through)."""
        after = self.after_command
        assert after is not None

        async def checked(name, arguments):
            result = await call(name, arguments)
            if name == "run":
                await after()
            return result

        return checked

    def tests_stop_or_retry(self):
        """The stopping rule, as the loop's ``on_finish``: None (done) when the card's tests
        pass; else the failure for the agent to fix, until ``runs.test_attempts`` are spent."""
        attempts = 0
        allowed = self.settings.runs.test_attempts

        async def on_finish(summary: str) -> str | None:
            nonlocal attempts
            attempts += 1
            result = await self.run_tests(attempts)
            if result.passed:
                return None
            if attempts >= allowed:
                raise RunError(
                    f"tests still failing after {attempts} attempts: {last_line(result.output)}"
                )
            self.set_state(RUNNING, f"tests failed (attempt {attempts}); the agent continues")
            return (
                f"The acceptance tests failed (attempt {attempts} of {allowed}). "
                f"Fix the problem, then call finish again.\n\n{result.output}"
            )

        return on_finish

    # ------------------------------------------------------------------ a command agent

    async def work_with_command(self, profile) -> str:
        """Run the agent CLI once; its summary is its ``Summary:`` line, or "" (the commit then
        says the card's title only, never whatever line the CLI printed last)."""
        from .command import (
            CommandAgentError,
            api_problem,
            last_lines,
            run_command_agent,
            summary_line,
        )
        from .prompt import command_prompt

        prompt = command_prompt(self.card, self.space.path, self.space.branch)
        prompt += self.take_messages_for_command()
        runtime = self.runtime if profile.sandbox else None
        if not profile.sandbox:
            self.record.extra["sandbox"] = "off"  # status --json and the card's badge say so
            self.emit(
                Notice,
                text=f"profile {profile.name!r} has sandbox = false: the agent command runs "
                "UNCONFINED, with your rights, files, environment and network",
                level="warning",
                topic="unconfined",
            )
        before = await self.worktree_tree()
        idle = IdleWatch(
            self.settings.runs.idle_seconds,
            lambda why: self.emit(AgentBlocked, reason=why),
        )
        watching = asyncio.ensure_future(idle.watch())
        try:
            result = await run_command_agent(
                profile,
                prompt,
                self.space.path,
                self.card.id,
                self.emit,
                self.settings.runs.output_cap,
                prompt_file=self.records.card_dir(self.card.id) / "prompt.md",
                runtime=runtime,
                files=self.card.files,
                env=self.env if self.agent_env is None else self.agent_env,
                idle_watch=idle,
            )
        except CommandAgentError as exc:
            raise RunError(str(exc)) from None
        finally:
            watching.cancel()
        from ..pricing import command_agent_cost

        self.record_cost(command_agent_cost(result.output))  # None: it did not say
        if self.after_command is not None:
            await self.after_command()
        problem = api_problem(result.output)
        because = f" ({problem})" if problem else ""
        if not result.ok:
            what = (
                f"timed out after {profile.max_wall_seconds:g}s"
                if result.timed_out
                else f"exited {result.exit_code}"
            )
            raise RunError(f"agent command {what}{because}: {last_line(result.output)}")
        # Several CLIs print a model error and exit 0: nothing changed is the tell, not the tests.
        if await self.worktree_tree() == before:
            raise RunError(
                f"the agent made no changes{because}. Its last output:\n{last_lines(result.output)}"
            )
        tests = await self.run_tests(1)
        if not tests.passed:
            raise RunError(f"the agent finished but the tests fail: {last_line(tests.output)}")
        return summary_line(result.output)

    def take_messages_for_command(self) -> str:
        """A command agent cannot be told anything mid-run: the messages sent to it since its
        last run go into its prompt with the review notes, as a section ("" when none)."""
        inbox = self.records.inbox(self.card.id)
        pending = inbox.pending()
        if not pending:
            return ""
        for message in pending:
            self.emit(ReviewerMessage, text=message.text, message_id=message.id)
        inbox.mark_delivered([m.id for m in pending], self.record.run)
        notes = "\n\n".join(f"- {m.text.strip()}" for m in pending)
        return f"\n## Messages from the reviewer (sent while the card waited or ran)\n{notes}\n"

    async def worktree_tree(self) -> str:
        """The worktree's whole state (untracked files too, the agent's side files not) as a
        tree id: equal before and after means the agent changed nothing."""
        snapshot = await asyncio.to_thread(git.snapshot_commit, self.space.path)
        return await asyncio.to_thread(git.rev_parse, self.space.path, snapshot + "^{tree}")

    # ------------------------------------------------------------------ the card's tests

    async def run_tests(self, attempt: int) -> TestsFinished:
        self.set_state(TESTING, f"running the card's tests (attempt {attempt})")
        self.record.attempt = attempt
        runs = self.settings.runs
        outputs, exit_code, passed = [], 0, True
        for command in self.card.tests:
            self.emit(LogLine, text=f"$ {command}", stream="info")
            result = await self.runtime.run(
                command,
                cwd=self.space.path,
                timeout=runs.test_timeout,
                output_cap=runs.output_cap,
                env=self.env,
            )
            outputs.append(f"$ {command}\n{result.output}")
            if not result.ok:
                passed = False
                exit_code = result.exit_code if not result.timed_out else None
                if result.timed_out:
                    outputs.append(f"[timed out after {runs.test_timeout:g}s]")
                break
        output = "\n".join(outputs) if outputs else "(no tests: the card names no 'tests:' command)"
        event = TestsFinished(
            self.card.id,
            self.record.run,
            passed=passed,
            exit_code=exit_code,
            output=output,
            command=" && ".join(self.card.tests),
            attempt=attempt,
        )
        self.publish(event)
        return event


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "(no output)"


def repaired(messages: list[dict] | None) -> list[dict] | None:
    """A conversation saved mid-step may end with tool calls that never got results."""
    if not messages:
        return None
    answered = {m.get("tool_call_id") for m in messages if m.get("role") == "tool"}
    result = []
    for message in messages:
        result.append(message)
        for call in message.get("tool_calls") or ():
            if call.get("id") not in answered:
                result.append(
                    {
                        "role": "tool",
                        "tool_call_id": call.get("id"),
                        "content": "(interrupted before this call ran)",
                    }
                )
    return result

"""Where a run works: its git worktree (created, or reused and checked), the files copied into
it, its setup commands, and the ``Runtime`` that runs commands there.

``Runtime`` is the seam for running a run's commands somewhere else than this machine's shell:
``LocalRuntime`` (over ``process.run_command``) and ``SandboxRuntime`` (``core/sandbox.py``: the
same, inside bwrap, confined to the worktree). ``[sandbox] mode`` chooses; a run that is not
confined says so (a notice, the first line of its log, ``status --json``'s ``sandbox``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .. import git
from ..card import Card
from ..events import PREPARING, Emitter, LogLine, Notice, StateChanged
from ..paths import worktree_root
from ..process import CommandResult, run_command
from ..records import RunRecords, RunState
from ..sandbox import SandboxRuntime, SandboxSettingError, SandboxUnavailable, choose, for_card
from ..worktree_files import copy_into, files_to_copy, unmatched_globs
from ..worktree_pool import WarmPool
from ..worktree_slots import SlotTable, slot_environment, slot_table
from .errors import RunError

BOARD_ENV = "KANBAN_AGENTS_BOARD"  # the CLI's own name for it (cli_board.BOARD_ENV)

log = logging.getLogger(__name__)

POOL_REFILL_DELAY = 2.0  # seconds after a start took a spare: its agent's first turn goes first

# Names of variables that hold credentials, by the usual conventions (OPENAI_API_KEY,
# GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY, ...). An unconfined command can read everything it is
# given, and what it prints goes to the model server: none of these reach an agent's commands.
_CREDENTIAL_NAME = re.compile(
    r"(?:^|_)(?:API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|ACCESS_KEY|PRIVATE_KEY)(?:_|$)"
    r"|(?:^|_)KEY$"
)


def is_credential(name: str) -> bool:
    """Does the environment variable ``name`` look like it holds a key, token or secret?"""
    return _CREDENTIAL_NAME.search(name.upper()) is not None


class Runtime(Protocol):
    """Runs a command of a run (the agent's ``run`` tool, setup, tests, a command agent) in its
    workspace ``cwd`` (the worktree's root). ``read_write``: extra paths the command may write
    where the runtime confines it (a command agent's config dirs)."""

    async def run(
        self,
        command: str | Sequence[str],
        *,
        cwd: Path,
        timeout: float,
        output_cap: int,
        env: Mapping[str, str] | None = None,
        on_lines: Callable[[list[str]], None] | None = None,
        read_write: Sequence[str] = (),
        on_partial: Callable[[str], None] | None = None,
    ) -> CommandResult: ...


class LocalRuntime:
    """Commands run here, below the reaper, in their own process group (``process.run_command``)."""

    async def run(
        self,
        command: str | Sequence[str],
        *,
        cwd: Path,
        timeout: float,
        output_cap: int,
        env: Mapping[str, str] | None = None,
        on_lines: Callable[[list[str]], None] | None = None,
        read_write: Sequence[str] = (),
        on_partial: Callable[[str], None] | None = None,
    ) -> CommandResult:
        return await run_command(
            command, cwd=cwd, timeout=timeout, output_cap=output_cap, env=env,
            on_lines=on_lines, on_partial=on_partial,
        )  # fmt: skip


@dataclass(frozen=True)
class Workspace:
    path: Path
    branch: str
    base: str


class Workspaces:
    """The worktrees of a board's runs: one per card, at ``worktree_root() / card_id`` on the
    branch ``branch_prefix + card_id``."""

    def __init__(
        self,
        repo: Path | None,
        settings_of: Callable[[], Any],
        records: RunRecords,
        environ: Mapping[str, str],
        secret_names: Sequence[str],
        runtime: Runtime | None = None,
        board_root: Path | None = None,
    ):
        self.repo = repo
        # Told to every command in a worktree, so `kanban-agents` there (an agent writing a
        # follow-up card) acts on this board, not the worktree's stale copy of it.
        self.board_root = board_root.resolve() if board_root is not None else None
        self._settings_of = settings_of  # the store's settings, re-read: the board may reload
        self.records = records
        self.environ = environ
        self.secret_names = list(secret_names)
        self._given_runtime = runtime  # tests and embedders may bring their own
        self._local = LocalRuntime()
        self._sandboxed = SandboxRuntime(self.sandbox_settings_for)
        # [sandbox] of each run with its profile's and card's network, by worktree
        self._run_sandbox: dict[Path, Any] = {}
        # Pruning and checking git's worktree list is serialised; checkouts run side by side.
        self._worktree_lock = threading.Lock()
        self._pool: WarmPool | None = None
        self._filling: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # where the pool fills

    @property
    def settings(self):
        return self._settings_of()

    @property
    def runtime(self) -> Runtime:
        """The runtime of the board's ``[sandbox]`` settings (unconfined when none can start
        in ``auto`` mode; ``confinement`` raises where ``mode = "bwrap"`` cannot start)."""
        return self.confinement()[0]

    def sandbox_settings_for(self, cwd: Path):
        """The ``[sandbox]`` settings of the run working in ``cwd`` (the board's by default)."""
        found = self._run_sandbox.get(Path(cwd).resolve())
        return self.settings.sandbox if found is None else found

    def confinement(self, sandbox_settings=None) -> tuple[Runtime, bool, str]:
        """(runtime, confined, what to tell the user); RunError when bwrap is demanded and
        cannot start (the probe's error and the fix)."""
        if self._given_runtime is not None:
            confined = isinstance(self._given_runtime, SandboxRuntime)
            return self._given_runtime, confined, "" if confined else "commands run unconfined"
        try:
            confined, message = choose(sandbox_settings or self.settings.sandbox)
        except SandboxUnavailable as exc:
            raise RunError(str(exc)) from None
        return (self._sandboxed if confined else self._local), confined, message

    def announce_confinement(self, record: RunState, emit: Emitter, card: Card | None = None):
        """Before any work: the run's runtime, recorded (``record.extra['sandbox']``) and, when
        commands are not confined, said loudly (a warning notice, on the card and in the log).
        With ``card``: its settings (the profile's and the card's network) hold for its worktree."""
        chosen = self.settings.sandbox
        if card is not None:
            try:
                profile = self.settings.agent_profile(card.agent)
            except Exception:  # an unknown profile fails the run elsewhere, with its own message
                profile = None
            try:
                chosen = for_card(chosen, profile, card.meta)
            except SandboxSettingError as exc:
                raise RunError(str(exc)) from None
            self._run_sandbox[self.workspace_for(card).path.resolve()] = chosen
        runtime, confined, message = self.confinement(chosen)
        record.extra["sandbox"] = "bwrap" if confined else "off"
        if confined:
            emit(LogLine, text=message, stream="info")
        else:
            emit(Notice, text=message, level="warning", topic="unconfined")
        return runtime

    def worktree_root(self) -> Path:
        assert self.repo is not None
        return worktree_root(self.repo, self.settings)

    def workspace_for(self, card: Card) -> Workspace:
        if self.repo is None:
            raise RunError(
                "the board is not inside a git repository: agents need one for their worktrees"
            )
        state = self.records.load_state(card.id)
        base = (state.base if state and state.base else "") or self.settings.worktrees.base_branch
        return Workspace(
            self.worktree_root() / card.id, self.settings.worktrees.branch_prefix + card.id, base
        )

    def command_env(self, keep: Sequence[str] = ()) -> dict[str, str]:
        """For commands in a worktree: no API keys, tokens or secrets of any provider (but the
        variables in ``keep``: a command agent's own key); no stale or stray Python bytecode (an
        edit keeping a file's size within a second would otherwise run the old code, and
        __pycache__ would land in the commit)."""
        env = {
            k: v
            for k, v in self.environ.items()
            if k in keep or (k not in self.secret_names and not is_credential(k))
        }
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
        if self.board_root is not None:
            env[BOARD_ENV] = str(self.board_root)
        return env

    # ------------------------------------------------------------------ slots and the pool

    @property
    def slots(self) -> SlotTable:
        return slot_table(self.records)

    def slot_env(self, card_id: str, worktree: Path) -> dict[str, str]:
        """``KANBAN_CARD``, ``KANBAN_WORKTREE``, ``KANBAN_SLOT``, ``KANBAN_PORT`` of the card's
        worktree (its slot is stable: recorded the first time)."""
        settings = self.settings.worktrees
        slot = self.slots.slot_for(worktree, settings.port_base, settings.port_stride)
        return slot_environment(card_id, worktree, slot, settings.port_base, settings.port_stride)

    def run_env(self, card_id: str, worktree: Path, keep: Sequence[str] = ()) -> dict[str, str]:
        """What the run's commands (setup, the agent's, the card's tests) get."""
        return {**self.command_env(keep), **self.slot_env(card_id, worktree)}

    def pool(self) -> WarmPool:
        assert self.repo is not None
        settings = self.settings.worktrees
        if self._pool is None or self._pool.size != settings.pool:
            self._pool = WarmPool(self.repo, self.worktree_root(), settings.pool,
                                  settings.base_branch, self._worktree_lock)  # fmt: skip
        return self._pool

    def pool_changed(self) -> None:
        """Refill the warm pool and check new spares clean, in the background (after a start,
        a merge, a discard, a gc). Any thread may call it."""
        if self.repo is None or self.settings.worktrees.pool <= 0:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # another thread (a merge): on the loop that fills, if any
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self.pool_changed)
            return  # no loop at all (a CLI command): the board app refills when it opens
        self._loop = loop
        if self._filling is None or self._filling.done():
            self._filling = loop.create_task(self._fill_pool(), name="fill the warm pool")

    async def _fill_pool(self) -> None:
        try:
            await asyncio.to_thread(self.pool().fill)
        except Exception as exc:  # a failed refill costs speed, not work: said, not raised
            self.on_pool_error(exc)

    def on_pool_error(self, exc: BaseException) -> None:
        log.warning("the warm pool could not be filled: %s", exc)

    async def _take_spare(self, space: Workspace, base: str) -> git.WorktreeInfo | None:
        """A spare of the warm pool made into the card's worktree, when one is ready and the
        card's worktree and branch are new."""
        if self.settings.worktrees.pool <= 0 or space.path.exists():
            return None
        if await asyncio.to_thread(git.branch_exists, self.repo, space.branch):
            return None
        start = await asyncio.to_thread(git.rev_parse, self.repo, f"{base}^{{commit}}")
        taken = await asyncio.to_thread(self.pool().take, space.path, space.branch, start)
        if taken is None:
            return None
        return git.WorktreeInfo(space.path, space.branch, start, created=True)

    # ------------------------------------------------------------------ prepare

    async def prepare(
        self,
        card: Card,
        record: RunState,
        emit: Emitter,
        write_card: Callable[[str, dict[str, Any]], None],
    ) -> Workspace:
        """The card's worktree, ready: taken from the warm pool, created or reused (a checkout
        a kill cut short is finished), its files copied and setup run once per worktree.
        ``record`` gets the branch, worktree, base and slot; ``write_card`` puts them on the
        card."""
        space = self.workspace_for(card)
        assert self.repo is not None
        self.announce_confinement(record, emit, card)
        base = space.base or await asyncio.to_thread(git.current_branch, self.repo) or "HEAD"
        if base == "HEAD":
            base = await asyncio.to_thread(git.rev_parse, self.repo, "HEAD")
        space.path.parent.mkdir(parents=True, exist_ok=True)
        info = await self._take_spare(space, base)
        from_pool = info is not None
        if info is None:
            info = await asyncio.to_thread(
                git.ensure_worktree, self.repo, space.path, space.branch, base, self._worktree_lock
            )
        space = Workspace(space.path, space.branch, base)
        record.branch, record.worktree, record.base = space.branch, str(space.path), base
        verb = "created" if info.created else "reusing"
        if from_pool:
            verb = "took a spare from the warm pool as"
        if info.repaired:
            verb = "finished the interrupted checkout of"
        where = os.path.relpath(space.path, self.repo)
        emit(
            LogLine,
            text=f"{verb} worktree {where} on branch {space.branch} (base {base})",
            stream="git",
        )
        # The refill checks out a whole tree: not beside the rest of a start that took a spare.
        delay = POOL_REFILL_DELAY if from_pool else 0.0
        asyncio.get_running_loop().call_later(delay, self.pool_changed)
        write_card(card.id, {"branch": space.branch, "worktree": where})
        # The agent's own files (aider's .aider*) stay out of its commits: only what the
        # profile declares, in this worktree's own info/exclude.
        profile = self.settings.agent_profile(card.agent)
        await asyncio.to_thread(git.set_side_files, space.path, profile.side_files, profile.name)
        env = await asyncio.to_thread(self.slot_env, card.id, space.path)
        record.extra["slot"] = int(env["KANBAN_SLOT"])
        if not record.extra.get("setup_done") or record.extra.get("setup_for") != str(space.path):
            await self.setup(space, emit, card.id)
            record.extra.update(setup_done=True, setup_for=str(space.path))
        self.records.save_state(record)
        return space

    async def setup(
        self, space: Workspace, emit: Emitter, card_id: str = "", *, in_run: bool = True
    ) -> None:
        """Bring the files (``.worktreeinclude``, ``copy_files``; never over a file there),
        initialise submodules, run the setup commands through the runtime with live output.
        A failure raises ``RunError`` starting ``setup:`` (the run ends ``failed: setup``)."""
        assert self.repo is not None
        settings = self.settings.worktrees
        wanted = await asyncio.to_thread(files_to_copy, self.repo, settings.copy_files)
        for pattern in unmatched_globs(self.repo, settings.copy_files):
            emit(LogLine, text=f"copy_files: nothing matches {pattern!r}", stream="setup")
        copied = await asyncio.to_thread(copy_into, self.repo, space.path, wanted)
        if copied:
            emit(LogLine, text="\n".join(f"copied {path}" for path in copied), stream="setup")
        if settings.submodules and git.has_submodules(space.path):
            emit(LogLine, text="$ git submodule update --init --recursive", stream="setup")
            try:
                output = await asyncio.to_thread(git.init_submodules, space.path)
            except git.GitError as exc:
                raise RunError(f"setup: submodules: {exc}") from None
            if output:
                emit(LogLine, text=output, stream="setup")
        if not settings.setup:
            return
        if in_run:  # the card shows the step it is at
            emit(StateChanged, state=PREPARING, reason="running setup")
        env = {**self.command_env(), **self.slot_env(card_id or space.path.name, space.path)}
        for command in settings.setup:
            emit(LogLine, text=f"$ {command}", stream="setup")
            result = await self.runtime.run(
                command,
                cwd=space.path,
                timeout=settings.setup_timeout,
                output_cap=self.settings.runs.output_cap,
                env=env,
                on_lines=lambda lines: emit(LogLine, text="\n".join(lines), stream="setup"),
            )
            if not result.ok:
                what = "timed out" if result.timed_out else f"exited {result.exit_code}"
                tail = "\n".join(result.output.strip().splitlines()[-5:])
                raise RunError(f"setup: {command!r} {what}: {tail}")

"""A command agent: an agent CLI the user already has (codex, claude, aider, a script), run in the
worktree with the card as its prompt, its output streamed line by line into the run's log."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ...config import AgentProfile
from ..events import Emitter, LogLine
from ..process import CommandResult, run_command

PLACEHOLDERS = ("{prompt}", "{prompt_file}", "{worktree}", "{card_id}")


class CommandAgentError(Exception):
    pass


def build_argv(
    template: tuple[str, ...], *, prompt: str, prompt_file: Path, worktree: Path, card_id: str
) -> list[str]:
    """Fill the placeholders; each template item stays one argument (no shell involved)."""
    values = {
        "{prompt}": prompt,
        "{prompt_file}": str(prompt_file),
        "{worktree}": str(worktree),
        "{card_id}": card_id,
    }
    argv = []
    for item in template:
        for placeholder, value in values.items():
            item = item.replace(placeholder, value)
        argv.append(item)
    return argv


async def run_command_agent(
    profile: AgentProfile,
    prompt: str,
    worktree: Path,
    card_id: str,
    emit: Emitter,
    output_cap: int,
    prompt_file: Path,
    runtime=None,
) -> CommandResult:
    """Run the agent command to completion (or until cancelled: its process group is killed).

    ``prompt_file`` is written with the prompt: it lives with the run's records, outside the
    worktree (so it never shows in the diff) and outside /tmp (so a killed app leaves no litter).

    ``runtime``: a workspace ``Runtime`` to start it in (the sandbox, with the profile's
    ``sandbox_paths`` writable: the CLI's config dirs); None: unconfined, here.
    """
    if not profile.command:
        raise CommandAgentError(f"agent profile {profile.name!r} has no command")
    executable = profile.command[0]
    if (
        shutil.which(executable, path=os.environ.get("PATH")) is None
        and not (worktree / executable).exists()
    ):
        raise CommandAgentError(
            f"agent command {executable!r} was not found on PATH (profile {profile.name!r}); install it or "
            "change [agents." + profile.name + "] command in kanban.toml"
        )
    prompt_file.parent.mkdir(parents=True, exist_ok=True)
    prompt_file.write_text(prompt, encoding="utf-8")
    argv = build_argv(
        profile.command, prompt=prompt, prompt_file=prompt_file, worktree=worktree, card_id=card_id
    )
    shown = " ".join(a if len(a) < 60 else a[:57] + "..." for a in argv)
    emit(LogLine, text=f"$ {shown}", stream="info")
    options = dict(
        cwd=worktree,
        timeout=profile.max_wall_seconds,
        output_cap=output_cap,
        on_lines=lambda lines: emit(LogLine, text="\n".join(lines), stream="stdout"),
    )
    if runtime is None:
        return await run_command(argv, **options)
    return await runtime.run(argv, read_write=profile.sandbox_paths, **options)

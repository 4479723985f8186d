"""A command agent: an agent CLI the user already has (codex, claude, aider, a script), run in the
worktree with the card as its prompt, its output streamed line by line into the run's log."""

from __future__ import annotations

import glob
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from ...config import AgentProfile
from ..events import Emitter, LogLine
from ..process import CommandResult, run_command

PLACEHOLDERS = ("{prompt}", "{prompt_file}", "{worktree}", "{card_id}", "{files}")


class CommandAgentError(Exception):
    pass


def build_argv(
    template: tuple[str, ...],
    *,
    prompt: str,
    prompt_file: Path,
    worktree: Path,
    card_id: str,
    files: Sequence[str] = (),
) -> list[str]:
    """Fill the placeholders; each template item stays one argument (no shell involved), except
    an item that is exactly ``{files}``: it becomes one argument per file (none for no files)."""
    values = {
        "{prompt}": prompt,
        "{prompt_file}": str(prompt_file),
        "{worktree}": str(worktree),
        "{card_id}": card_id,
        "{files}": " ".join(files),
    }
    argv = []
    for item in template:
        if item == "{files}":
            argv.extend(files)
            continue
        for placeholder, value in values.items():
            item = item.replace(placeholder, value)
        argv.append(item)
    return argv


def card_files(entries: Sequence[str], worktree: Path) -> list[str]:
    """The card's ``files`` as paths for a CLI's arguments: a glob becomes the files it matches in
    the worktree (a CLI would take ``src/*.py`` for a file name and may create it); a plain path
    is kept even if missing (the card may ask for a new file). Paths leaving the worktree are
    dropped, and ``./`` keeps a name starting with ``-`` from reading as an option."""
    paths: list[str] = []
    for entry in entries:
        entry = entry.strip().replace("\\", "/")
        if not entry or os.path.isabs(entry) or ".." in Path(entry).parts:
            continue
        if glob.has_magic(entry):
            found = sorted(glob.glob(entry, root_dir=worktree, recursive=True))
            matches = [m for m in found if (worktree / m).is_file()]
        else:
            matches = [entry.rstrip("/")]
        for match in matches:
            match = "./" + match if match.startswith("-") else match
            if match not in paths:
                paths.append(match)
    return paths


async def run_command_agent(
    profile: AgentProfile,
    prompt: str,
    worktree: Path,
    card_id: str,
    emit: Emitter,
    output_cap: int,
    prompt_file: Path,
    runtime=None,
    files: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    idle_watch=None,
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
        profile.command,
        prompt=prompt,
        prompt_file=prompt_file,
        worktree=worktree,
        card_id=card_id,
        files=card_files(files, worktree),
    )
    shown = " ".join(a if len(a) < 60 else a[:57] + "..." for a in argv)
    emit(LogLine, text=f"$ {shown}", stream="info")
    options = dict(
        cwd=worktree,
        timeout=profile.max_wall_seconds,
        output_cap=output_cap,
        # ``env``: the caller's, with no credentials but the profile's own key (None: this
        # process's, all of it); the profile's own variables on top.
        env={**(os.environ if env is None else env), **profile.env},
        on_lines=lambda lines: _shown(lines, emit, idle_watch),
        on_partial=None if idle_watch is None else idle_watch.partial,
    )
    if runtime is None:
        return await run_command(argv, **options)
    return await runtime.run(argv, read_write=profile.sandbox_paths, **options)


def _shown(lines: list[str], emit: Emitter, idle_watch) -> None:
    emit(LogLine, text="\n".join(lines), stream="stdout")
    if idle_watch is not None:  # ``blocked.IdleWatch``: the output moved on
        idle_watch.lines(lines)


# What an agent CLI prints when its model server turned it away: (pattern, what went wrong).
# Several CLIs (aider among them) print the error and still exit 0.
API_ERRORS = (
    (r"AuthenticationError|\b401\b.*(error|unauthori[sz]ed)|(error|unauthori[sz]ed).*\b401\b"
     r"|invalid.{0,20}api.?key|incorrect api key",
     "the model server refused the API key (401): check the key the agent uses"),
    (r"PermissionDeniedError|\b403\b.*(error|forbidden)|(error|forbidden).*\b403\b",
     "the model server refused access (403)"),
    (r"RateLimitError|\b429\b|rate.?limit|insufficient_quota|exceeded your current quota",
     "the model server rate-limited the agent or its quota is spent (429)"),
    (r"NotFoundError|model_not_found|\b404\b.*(error|not found)|model .{0,60} does not exist",
     "the model server does not know the model (404): check the model name"),
    (r"ContextWindowExceeded|context.{0,20}(length|window).{0,40}exceed|maximum context length",
     "the prompt is too long for the model's context window"),
    (r"Connection refused|APIConnectionError|Connection error|ConnectError"
     r"|Name or service not known|getaddrinfo failed|Temporary failure in name resolution",
     "the agent could not reach the model server (connection failed): is it running?"),
    (r"APITimeoutError|Timeout[A-Za-z]*Error|Request timed out",
     "the model server did not answer in time"),
    (r"InternalServerError|ServiceUnavailableError|\b50[0234]\b.*error|error.*\b50[0234]\b",
     "the model server failed (5xx)"),
)  # fmt: skip


# Lines about something other than the model server: aider fetches litellm's price list at
# start-up and prints the failure (harmless) when there is no internet.
NOT_THE_MODEL_SERVER = re.compile(r"model_prices_and_context_window")


def api_problem(output: str) -> str | None:
    """What went wrong with the model server, if the agent's output says so in a common way."""
    for line in reversed(output.splitlines()):
        if NOT_THE_MODEL_SERVER.search(line):
            continue
        for pattern, meaning in API_ERRORS:
            if re.search(pattern, line, re.IGNORECASE):
                return meaning
    return None


# "Summary: ...", also as Markdown: "**Summary:** ...", "## Summary: ...", "- Summary: ...".
SUMMARY_LINE = re.compile(r"^[*_#>\s-]*summary[*_\s]*:[*_\s]*(?P<text>\S.*?)[*_\s]*$", re.I)


def summary_line(output: str) -> str:
    """The agent's own summary: the last ``Summary: ...`` line it printed (the command-agent
    prompt asks for one), or "" when it printed none."""
    for line in reversed(output.splitlines()):
        found = SUMMARY_LINE.match(line.strip())
        if found:
            return found["text"][:500]
    return ""


def last_lines(output: str, count: int = 5) -> str:
    lines = [line.rstrip()[:200] for line in output.strip().splitlines() if line.strip()]
    return "\n".join(lines[-count:]) if lines else "(no output)"

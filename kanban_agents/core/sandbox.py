"""The sandbox: every command an agent runs (its ``run`` tool, the card's tests, setup commands,
a command agent) started inside ``bwrap`` (bubblewrap), confined to the card's worktree.

Inside, what a command sees:

- ``/`` read-only; ``/dev`` and ``/proc`` of its own (a new PID namespace: the host's processes,
  their environments and the app's API keys are not visible); a private empty ``/tmp``;
- ``$HOME`` an empty directory, except ``[sandbox] read_only`` / ``read_write`` paths, the
  directories on ``PATH`` that live under it (read-only, so toolchains installed there run) and
  a command agent's ``sandbox_paths`` (its config dirs, writable);
- the card's worktree writable; the main checkout and the other cards' worktrees read-only (or
  hidden when they are under ``/tmp`` or ``$HOME``);
- the git dir read-only, except the worktree's own admin dir (``.git/worktrees/<card>/``: its
  index, so ``git status`` and ``git diff`` work). ``HEAD`` there and the worktree's ``.git``
  file stay read-only, so the branch and the git dir kanban-agents commits to cannot be swapped.
  The agent's own ``git add`` / ``git commit`` fail (objects and refs are read-only):
  kanban-agents makes the commit, outside the sandbox, after the tests pass;
- the network shared with the host, or none (``network = "off"``: a namespace of its own);
- a session of its own with no controlling terminal (``run_command`` starts every command with
  ``setsid`` and stdin from /dev/null, so TIOCSTI has no terminal to push keys into). bwrap's own
  ``--new-session`` is left out on purpose: it would move the sandbox out of the command's process
  group, and while the kernel tears the namespace down the clean-up would report its last process
  as escaped (seen in 8 of 40 runs of ``echo``); bwrap dies with its parent, and when the command
  ends the PID namespace ends and with it every process the command left behind.

``mode = "auto"`` uses bwrap when a start-up probe (``bwrap ... true``) works, else runs
commands unconfined and says so; ``mode = "bwrap"`` fails the run with the probe's error.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .process import CommandResult, run_command

FIX = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap). On Ubuntu 24.04 and later, "
    "unprivileged user namespaces are restricted by AppArmor "
    "(kernel.apparmor_restrict_unprivileged_userns=1): add an AppArmor profile for /usr/bin/bwrap "
    'that allows `userns` (see the README\'s Sandbox section), or set [sandbox] mode = "off" to '
    "run agent commands unconfined"
)

UNCONFINED = (
    "agent commands run UNCONFINED: they can write anywhere you can, read your files and "
    "environment, reach the network and start processes"
)


@dataclass(frozen=True)
class Probe:
    works: bool
    error: str = ""  # why bwrap cannot start: its own message, or that it is not installed


@functools.cache
def probe(bwrap: str | None = None) -> Probe:
    """Whether ``bwrap`` starts a confined ``true`` here (once per process: ~10 ms)."""
    bwrap = bwrap or shutil.which("bwrap")
    if bwrap is None:
        return Probe(False, "bwrap is not installed (not found on PATH)")
    argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all",
            "--die-with-parent", "--new-session", "true"]  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Probe(False, f"bwrap did not start: {exc}")
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip() or f"exit {done.returncode}"
        return Probe(False, f"bwrap failed: {message}")
    return Probe(True)


class SandboxSettingError(Exception):
    """A card's ``sandbox:`` front matter is not usable; the message says what to write."""


def for_card(board, profile=None, card_meta: Mapping | None = None):
    """The ``[sandbox]`` settings of one run: the board's, with the network of the agent profile
    (``sandbox_network``) and then of the card (front matter ``sandbox: {network: off}``)."""
    from dataclasses import replace

    network = getattr(profile, "sandbox_network", None) or board.network
    wanted = (card_meta or {}).get("sandbox")
    if wanted is not None:
        if not isinstance(wanted, Mapping) or set(wanted) - {"network"}:
            raise SandboxSettingError(
                "the card's sandbox: must be a table with only network, e.g. sandbox: {network: off}"
            )
        value = wanted.get("network", network)
        if isinstance(value, bool):  # YAML reads a bare off / on as false / true
            value = "on" if value else "off"
        if value not in ("on", "off"):
            raise SandboxSettingError(
                f"the card's sandbox.network must be on or off, not {value!r}"
            )
        network = value
    return board if network == board.network else replace(board, network=network)


class SandboxUnavailable(Exception):
    """``mode = "bwrap"`` where bwrap cannot start; the message has the probe's error and the fix."""


def choose(settings, bwrap: str | None = None) -> tuple[bool, str]:
    """(confined, what to tell the user) for ``[sandbox]`` settings; raises SandboxUnavailable."""
    if settings.mode == "off":
        return False, f'[sandbox] mode = "off": {UNCONFINED}'
    found = probe(bwrap)
    if found.works:
        return True, f"sandbox: bwrap (network {settings.network})"
    if settings.mode == "bwrap":
        raise SandboxUnavailable(f'[sandbox] mode = "bwrap" but {found.error}. Fix: {FIX}')
    return False, f"no sandbox ({found.error}): {UNCONFINED}"


def _expand(patterns: Sequence[str], home: Path) -> list[Path]:
    """``~`` expanded against ``home``, globs resolved; paths that do not exist are left out."""
    paths = []
    for pattern in patterns:
        text = str(home) + pattern[1:] if pattern.startswith("~") else pattern
        matches = glob.glob(text) if glob.has_magic(text) else [text]
        paths.extend(Path(m) for m in matches if os.path.lexists(m))
    return paths


def _within(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def _git_dirs(worktree: Path) -> tuple[Path | None, Path | None]:
    """(the common git dir, this worktree's admin dir) from the worktree's ``.git`` file."""
    dot_git = worktree / ".git"
    if dot_git.is_dir():
        return dot_git.resolve(), None  # the main checkout itself: its git dir stays read-only
    try:
        text = dot_git.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeError):
        return None, None
    if not text.startswith("gitdir:"):
        return None, None
    admin = (worktree / text.removeprefix("gitdir:").strip()).resolve()
    try:
        common = (admin / (admin / "commondir").read_text().strip()).resolve()
    except OSError:
        common = admin.parent.parent
    return common, admin


def bwrap_argv(
    argv: Sequence[str],
    *,
    worktree: Path,
    settings,
    env: Mapping[str, str],
    extra_read_write: Sequence[str] = (),
    bwrap: str = "bwrap",
) -> list[str]:
    """The bwrap command line that runs ``argv`` confined to ``worktree`` (see the module doc)."""
    worktree = worktree.resolve()
    home = Path(env.get("HOME") or os.path.expanduser("~"))
    args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    if os.path.isdir("/var/tmp"):
        args += ["--tmpfs", "/var/tmp"]
    hidden = [Path("/tmp"), Path("/var/tmp")]
    home_hidden = home.is_dir() and home.resolve() != Path("/")
    if home_hidden:
        args += ["--tmpfs", str(home)]
        hidden.append(home)
    # Toolchains installed where the sandbox hides things (~/.local/bin, pyenv, a venv made
    # under $HOME or /tmp) still run: their directories on PATH, and the Python running
    # kanban-agents, stay readable (a .../bin directory brings its prefix along).
    entries = [*(env.get("PATH") or "").split(os.pathsep), str(Path(sys.prefix) / "bin"),
               str(Path(sys.base_prefix) / "bin")]  # fmt: skip
    for entry in dict.fromkeys(entries):
        path = Path(entry)
        if not entry or not path.is_absolute():
            continue
        under = next((h for h in hidden if _within(path, h) and path != h), None)
        if under is not None:
            shown = path.parent if path.name == "bin" and path.parent != under else path
            args += ["--ro-bind-try", str(shown), str(shown)]
    # kanban-agents' own package, read-only, wherever it is installed (an editable install's
    # source tree under $HOME or /tmp): an agent runs `kanban-agents list`/`new` in the box.
    package = Path(__file__).resolve().parents[1]
    if any(_within(package, h) for h in hidden):
        args += ["--ro-bind-try", str(package), str(package)]
    for path in _expand(settings.read_only, home):
        args += ["--ro-bind", str(path), str(path)]
    for path in _expand((*settings.read_write, *extra_read_write), home):
        args += ["--bind", str(path), str(path)]
    program = _program(argv, env)
    if program is not None:  # a command agent's own executable, wherever it is installed
        args += ["--ro-bind-try", str(program), str(program)]
    common, admin = _git_dirs(worktree)
    if common is not None:
        args += ["--ro-bind", str(common), str(common)]
    board = env.get("KANBAN_AGENTS_BOARD")  # the run's board (Workspaces.command_env)
    if board and Path(board).is_absolute():
        # `kanban-agents list/show` and MCP reads work in the sandbox; a write is refused
        # (read-only) and says so: an agent that could write cards could start agents.
        args += ["--ro-bind-try", board, board]
    args += ["--bind", str(worktree), str(worktree)]
    if admin is not None and admin.is_dir():
        args += ["--bind", str(admin), str(admin)]
        if (admin / "HEAD").exists():
            args += ["--ro-bind", str(admin / "HEAD"), str(admin / "HEAD")]
    if (worktree / ".git").exists():
        args += ["--ro-bind", str(worktree / ".git"), str(worktree / ".git")]
    for path in _expand(settings.hide, home):
        if path.is_dir():
            args += ["--tmpfs", str(path)]
        else:
            args += ["--ro-bind", "/dev/null", str(path)]
    args += ["--unshare-all"]
    if settings.network == "on":
        args += ["--share-net"]
    args += ["--die-with-parent", "--chdir", str(worktree)]  # no --new-session: see above
    args += ["--", *_limited(argv, settings)]
    return args


def _program(argv: Sequence[str], env: Mapping[str, str]) -> Path | None:
    """The executable of an argv list (not a shell command), resolved, if it is a file."""
    if not argv or argv[0] == "/bin/sh":
        return None
    found = shutil.which(argv[0], path=env.get("PATH")) if "/" not in argv[0] else argv[0]
    return Path(found).resolve() if found and os.path.isfile(found) else None


def _limited(argv: Sequence[str], settings) -> list[str]:
    """``argv`` under ``prlimit`` when ``max_memory_mb`` / ``max_processes`` are set."""
    limits = []
    if settings.max_memory_mb:
        limits.append(f"--as={settings.max_memory_mb * 1024 * 1024}")
    if settings.max_processes:
        limits.append(f"--nproc={settings.max_processes}")
    prlimit = shutil.which("prlimit")
    if not limits or prlimit is None:
        return list(argv)
    return [prlimit, *limits, "--", *argv]


LIMIT_SIGNS = (
    "MemoryError",
    "Cannot allocate memory",
    "out of memory",
    "Resource temporarily unavailable",
    "fork: retry",
)


def limit_note(result: CommandResult, settings) -> str:
    """A line saying a resource limit was probably hit, or ''."""
    if result.ok or not (settings.max_memory_mb or settings.max_processes):
        return ""
    if not any(sign in result.output for sign in LIMIT_SIGNS):
        return ""
    return (
        f"\n[the command failed against a [sandbox] limit: max_memory_mb = "
        f"{settings.max_memory_mb or 'none'}, max_processes = {settings.max_processes or 'none'}]"
    )


class SandboxRuntime:
    """Commands run inside bwrap, confined to their worktree (``cwd``), below the reaper like
    every command (``process.run_command``). ``settings_of(cwd)`` gives the ``[sandbox]``
    settings of the run working in ``cwd``."""

    def __init__(self, settings_of: Callable[[Path], object], bwrap: str | None = None):
        self._settings_of = settings_of
        self.bwrap = bwrap or shutil.which("bwrap") or "bwrap"

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
        settings = self._settings_of(Path(cwd))
        base_env = dict(os.environ if env is None else env)
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
        wrapped = bwrap_argv(
            argv,
            worktree=Path(cwd),
            settings=settings,
            env=base_env,
            extra_read_write=read_write,
            bwrap=self.bwrap,
        )
        result = await run_command(
            wrapped, cwd=cwd, timeout=timeout, output_cap=output_cap, env=base_env,
            on_lines=on_lines, on_partial=on_partial,
        )  # fmt: skip
        note = limit_note(result, settings)
        if note:
            from dataclasses import replace

            result = replace(result, output=result.output + note)
        return result

"""Git for cards: one worktree and branch per card, a diff for review, a merge gate.

Everything here is synchronous and blocking; callers run it off the event loop with
``asyncio.to_thread``. Git runs through GitPython's command wrapper, always with ``-C <dir>``
(GitPython silently falls back to the process's own directory when ``cwd`` is missing, and
``git add -A`` in the wrong repository is not a mistake we can afford). Failures become
``GitError`` whose text is what a user should read: the git subcommand and git's own stderr.

The one rule above all: never lose a user's work. Reading a worktree's state goes through a
scratch copy of its index, so the agent's and the user's staging area is never touched, and the
only place that touches the main checkout's files is the final fast-forward in
``merge_card_branch``, after checking that no uncommitted or ignored file is in the way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

FALLBACK_NAME = "kanban-agents"
FALLBACK_EMAIL = "kanban-agents@localhost"

MERGE_STRATEGIES = ("merge", "squash", "rebase")

# Subcommands whose second word names the operation ("git worktree add failed: ...").
_TWO_WORD_COMMANDS = frozenset({"worktree", "stash", "remote", "submodule", "notes", "bisect"})

# Consistent, machine-readable diffs whatever the user's config says (external diff drivers,
# textconv, colour, submodule log format would all change the text we split).
_DIFF_OPTIONS = ("-M", "--no-color", "--no-ext-diff", "--no-textconv", "--submodule=short")

_FILE_HEADER = b"diff --git "


class GitError(Exception):
    """A git operation failed. ``str(error)`` is written for the user, in git's words."""


class MergeConflict(GitError):
    """Two lines of work edit the same lines; ``files`` names the conflicting paths."""

    def __init__(self, files: Iterable[str], message: str | None = None, commit: str = ""):
        self.files = list(files)
        self.commit = commit  # a rebase's: the commit that did not replay ("abc1234 subject")
        super().__init__(message or f"merge conflict in {_path_list(self.files)}")


@dataclass(frozen=True)
class WorktreeInfo:
    path: Path
    branch: str | None  # short name; None when detached (or bare)
    head: str  # "" for a bare repository or an unborn branch
    created: bool = False  # ensure_worktree made a new branch from base
    prunable: bool = False  # registered, but its directory is gone
    repaired: bool = False  # ensure_worktree finished a checkout a killed process left half-done


@dataclass(frozen=True)
class DiffFile:
    path: str
    old_path: str | None  # set for renames
    status: str  # "A", "M", "D" or "R"
    added: int
    deleted: int
    binary: bool
    patch: str  # this file's unified diff ("" when skipped)
    skipped: str | None  # "binary", "no patch", "large (N lines)" (over max_patch_lines)
    # Why a review shows it folded (counts only until unfolded): "lock or generated file", ...
    # Set by ``diff_folding``, not here: the patch is kept.
    folded: str | None = None


@dataclass(frozen=True)
class WorktreeDiff:
    base_ref: str
    merge_base: str
    files: list[DiffFile]

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def deleted(self) -> int:
        return sum(f.deleted for f in self.files)


@dataclass(frozen=True)
class MergeCheck:
    clean: bool
    tree: str | None  # the merged tree (written even when there are conflicts)
    conflicts: list[str]
    message: str


@dataclass(frozen=True)
class MergeResult:
    commit: str  # the new tip of base
    strategy: str
    base: str  # the base branch name
    previous: str = ""  # base's tip before the merge


# --- running git -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Output:
    status: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace").strip()


# Every git command of ours runs with no hooks and no fsmonitor: an agent working unconfined can
# write hooks into the shared git dir or set ``core.fsmonitor`` in its config, and our commands
# (a commit of its work, the merge in the user's checkout) must not run what it planted there.
# ``/dev/null`` as the hooks directory is one where no hook can ever be, nor be written.
_NO_HOOKS = ("-c", f"core.hooksPath={os.devnull}")
_NO_FSMONITOR = ("-c", "core.fsmonitor=false")


def _git(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    ok: Iterable[int] = (0,),
    run_hooks: bool = False,
) -> _Output:
    """Run ``git -C cwd args``; raise GitError unless the exit status is in ``ok``.

    Hooks run only with ``run_hooks`` (the user asked for them: ``[review] run_hooks``)."""
    from git.cmd import Git  # GitPython costs ~0.1 s to import: only when git is really needed
    from git.exc import GitCommandError

    guards = _NO_FSMONITOR if run_hooks else (*_NO_HOOKS, *_NO_FSMONITOR)
    command = [Git.GIT_PYTHON_GIT_EXECUTABLE or "git", "-C", str(cwd), *guards, *args]
    run_env = {"GIT_TERMINAL_PROMPT": "0", **(env or {})}
    try:
        status, stdout, stderr = Git(str(cwd)).execute(
            command,
            with_extended_output=True,
            with_exceptions=False,
            stdout_as_string=False,
            strip_newline_in_stdout=False,
            env=run_env,
        )
    except GitCommandError as error:  # git could not be started at all
        raise GitError(f"git {_subcommand(args)} failed: {error.status or error}") from error
    if status not in tuple(ok):
        raise GitError(_failure(args, status, stderr, stdout))
    return _Output(status, stdout, stderr)


def _subcommand(args: Iterable[str]) -> str:
    words: list[str] = []
    skip_value = False
    for arg in args:
        if skip_value:
            skip_value = False
        elif arg in ("-c", "-C"):
            skip_value = True
        elif arg.startswith("-"):
            continue
        else:
            words.append(arg)
            if len(words) == 2 or words[0] not in _TWO_WORD_COMMANDS:
                break
    return " ".join(words) or "git"


def _failure(args: Iterable[str], status: int, stderr: str, stdout: bytes) -> str:
    detail = stderr.strip() or stdout.decode("utf-8", "replace").strip()
    return f"git {_subcommand(args)} failed: {detail or f'exit status {status}'}"


def _path_list(paths: Iterable[str], limit: int = 10) -> str:
    paths = list(paths)
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def _nul_fields(data: bytes) -> list[str]:
    return [os.fsdecode(field) for field in data.split(b"\0") if field]


# --- repository queries ------------------------------------------------------------------


def repo_toplevel(path: Path) -> Path:
    """The top directory of the worktree containing ``path``."""
    path = Path(path)
    start = path if path.is_dir() else path.parent
    return Path(_git(start, "rev-parse", "--show-toplevel").text)


def init_repository(directory: Path, branch: str = "main") -> None:
    """Make ``directory`` (which must exist) a new repository whose first branch is ``branch``."""
    _git(directory, "init", "--quiet", f"--initial-branch={branch}")


def tracked_files(root: Path) -> list[str]:
    """The paths git tracks in ``root``'s worktree, relative to it, as they are (not quoted)."""
    return _nul_fields(_git(root, "ls-files", "-z").stdout)


def current_branch(root: Path) -> str | None:
    """The branch checked out in ``root``, or None when HEAD is detached."""
    out = _git(root, "symbolic-ref", "--quiet", "--short", "HEAD", ok=(0, 1))
    return out.text if out.status == 0 else None


def rev_parse(root: Path, ref: str) -> str:
    """The full object name of ``ref``."""
    if ref.startswith("-"):
        raise GitError(f"git rev-parse failed: invalid revision '{ref}'")
    out = _git(root, "rev-parse", "--verify", "--quiet", ref, ok=(0, 1))
    if out.status != 0 or not out.text:
        raise GitError(f"git rev-parse failed: {out.stderr.strip() or f'unknown revision {ref!r}'}")
    return out.text


def _commit(root: Path, ref: str) -> str:
    return rev_parse(root, f"{ref}^{{commit}}")


def _head(root: Path) -> str | None:
    """HEAD's commit, or None on an unborn branch."""
    out = _git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", ok=(0, 1))
    return out.text if out.status == 0 else None


def _merge_base(root: Path, a: str, b: str) -> str:
    out = _git(root, "merge-base", a, b, ok=(0, 1))
    if out.status != 0:
        raise GitError(f"git merge-base failed: '{a}' and '{b}' have no common history")
    return out.text


def commits_between(root: Path, old: str, new: str) -> int:
    """How many commits ``new`` has that ``old`` has not (how far a base moved on)."""
    return int(_git(root, "rev-list", "--count", f"{old}..{new}").text or 0)


def merge_base(root: Path, a: str, b: str) -> str:
    """The commit where ``a`` and ``b`` forked."""
    return _merge_base(root, a, b)


def is_ancestor(root: Path, ancestor: str, descendant: str) -> bool:
    """Is ``ancestor`` in the history of ``descendant`` (or the same commit)?"""
    out = _git(root, "merge-base", "--is-ancestor", ancestor, descendant, ok=(0, 1))
    return out.status == 0


def identity_args(root: Path) -> list[str]:
    """``-c`` options that give commits an identity when the repo's config has none.

    Only the missing half is filled in, so a configured name or email is never replaced.
    """
    out = _git(root, "config", "-z", "--get-regexp", r"^user\.(name|email)$", ok=(0, 1))
    configured = set()
    for entry in out.stdout.split(b"\0"):
        key, _, value = entry.decode("utf-8", "replace").partition("\n")
        if value.strip():
            configured.add(key.lower())
    args: list[str] = []
    if "user.name" not in configured:
        args += ["-c", f"user.name={FALLBACK_NAME}"]
    if "user.email" not in configured:
        args += ["-c", f"user.email={FALLBACK_EMAIL}"]
    return args


def branch_exists(root: Path, branch: str) -> bool:
    out = _git(root, "show-ref", "--verify", "--quiet", f"refs/heads/{branch}", ok=(0, 1))
    return out.status == 0


def _branch_tip(root: Path, branch: str) -> str:
    if not branch_exists(root, branch):
        raise GitError(f"branch '{branch}' does not exist")
    return _commit(root, f"refs/heads/{branch}")


def dirty_paths(root: Path) -> set[str]:
    """Files with uncommitted changes in ``root``: modified, staged, deleted or untracked."""
    # --no-optional-locks: a status refresh must not race the user's own git commands.
    out = _git(
        root,
        *_side_file_args(root),
        "--no-optional-locks",
        "status",
        "--porcelain",
        "-z",
        "--no-renames",
        "--untracked-files=all",
    )
    paths: set[str] = set()
    fields = iter(out.stdout.split(b"\0"))
    for field in fields:
        if len(field) < 4:
            continue
        paths.add(os.fsdecode(field[3:]))
        if field[:1] in (b"R", b"C"):  # the old name follows (only if renames slip through)
            paths.add(os.fsdecode(next(fields, b"")))
    paths.discard("")
    return paths


def tree_changes(root: Path, old: str, new: str) -> set[str]:
    """Paths that differ between two commits (renames as both names)."""
    return _tree_changes(root, old, new)


def changed_paths(root: Path, base_ref: str, commit: str) -> set[str]:
    """Paths ``commit`` changes since it forked from ``base_ref`` (renames as both names)."""
    fork = _merge_base(root, base_ref, commit)
    return _tree_changes(root, fork, commit)


def _tree_changes(root: Path, old: str, new: str, *, only: str | None = None) -> set[str]:
    args = ["diff-tree", "-r", "-z", "--name-only", "--no-renames", "--no-commit-id"]
    if only:
        args.append(f"--diff-filter={only}")
    return set(_nul_fields(_git(root, *args, old, new).stdout))


# --- worktrees ---------------------------------------------------------------------------


def list_worktrees(root: Path) -> list[WorktreeInfo]:
    """Every worktree of the repository, the main one first."""
    out = _git(root, "worktree", "list", "--porcelain", "-z")
    worktrees: list[WorktreeInfo] = []
    record: dict[str, str] = {}
    for field in [*out.stdout.split(b"\0"), b""]:
        if field:
            key, _, value = os.fsdecode(field).partition(" ")
            record[key] = value
            continue
        if "worktree" in record:
            branch = record.get("branch")
            worktrees.append(
                WorktreeInfo(
                    path=Path(record["worktree"]),
                    branch=branch.removeprefix("refs/heads/") if branch else None,
                    head=record.get("HEAD", ""),
                    prunable="prunable" in record,
                )
            )
        record = {}
    return worktrees


def checked_out_in(root: Path, branch: str) -> Path | None:
    """The worktree (main checkout included) that has ``branch`` checked out, if any."""
    for worktree in list_worktrees(root):
        if worktree.branch == branch and not worktree.prunable:
            return worktree.path
    return None


def _absolute(root: Path, path: Path) -> Path:
    path = Path(path)
    return (path if path.is_absolute() else Path(root) / path).resolve()


def ensure_worktree(root: Path, path: Path, branch: str, base: str,
                    registry_lock: threading.Lock | None = None) -> WorktreeInfo:  # fmt: skip
    """A worktree at ``path`` with ``branch`` checked out, reusing what is already there.

    ``created`` is True only when the branch itself was made here, from ``base``: a branch that
    already exists (a resumed card) is checked out as it is.

    ``registry_lock`` serialises registering worktrees (prune, checks, ``worktree add
    --no-checkout``) between callers; the checkout itself, the slow part, runs outside it.
    """
    path = _absolute(root, path)
    with registry_lock or contextlib.nullcontext():
        # git reads every worktree's admin files while adding one, and prune deletes half-made
        # ones: registering a worktree is one at a time. Without its checkout it is quick.
        found = _find_or_check_worktree(root, path, branch)
        created = found is None and not branch_exists(root, branch)
        if found is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            start = ["-b", branch, "--", str(path), base] if created else ["--", str(path), branch]
            _git(root, "worktree", "add", "--quiet", "--no-checkout", *start)
    if found is not None:
        return _checked_out(found, branch)
    _git(path, "reset", "--hard", "--quiet")  # the checkout: concurrent runs do this side by side
    return WorktreeInfo(path, branch, _head(path) or "", created=created)


def _checked_out(found: WorktreeInfo, branch: str) -> WorktreeInfo:
    """A reused worktree, its checkout verified and finished if a kill cut it short.

    A process killed between ``worktree add --no-checkout`` and the checkout leaves a worktree
    with no index and (some or) none of its files; an agent working there would commit the
    deletion of everything it does not see. The checkout writes the index last, so a missing
    index means the checkout never finished: the index is built from HEAD and only the files
    that are missing are written, so whatever is already there (half a checkout, or work) stays.
    """
    path = found.path  # on ``branch``: _find_or_check_worktree refuses any other HEAD
    if _git_path(path, "index").exists() or _head(path) is None:
        return found
    _git(path, "reset", "--quiet", "--no-refresh")  # the index from HEAD; no file is touched
    missing = _nul_fields(_git(path, "ls-files", "-z", "--deleted").stdout)
    for start in range(0, len(missing), 1000):  # argument lists stay far below ARG_MAX
        _git(path, "checkout-index", "--", *missing[start : start + 1000])
    return WorktreeInfo(path, branch, found.head, created=False, repaired=True)


def _find_or_check_worktree(root: Path, path: Path, branch: str) -> WorktreeInfo | None:
    _git(root, "worktree", "prune")  # forget worktrees whose directories were deleted
    for worktree in list_worktrees(root):
        same_path = worktree.path.resolve() == path
        if worktree.branch == branch:
            if same_path:
                return WorktreeInfo(path, branch, worktree.head, created=False)
            raise GitError(f"branch '{branch}' is already checked out at '{worktree.path}'")
        if same_path:
            on = f"branch '{worktree.branch}'" if worktree.branch else "a detached HEAD"
            raise GitError(f"'{path}' is already a worktree on {on}, not on '{branch}'")
    if path.exists() and not (path.is_dir() and not any(path.iterdir())):
        raise GitError(f"'{path}' already exists and is not the worktree of '{branch}'")
    return None


def remove_worktree(root: Path, path: Path) -> None:
    """Remove a card's worktree, uncommitted changes and all. Fine if it is already gone.

    A directory at ``path`` that git does not know as a worktree is left alone.
    """
    path = _absolute(root, path)
    _git(root, "worktree", "prune")
    if any(w.path.resolve() == path for w in list_worktrees(root)):
        _git(root, "worktree", "remove", "--force", "--", str(path))


def delete_branch(root: Path, branch: str) -> None:
    """Delete ``branch`` even if unmerged. Fine if it is already gone."""
    if branch_exists(root, branch):
        _git(root, "worktree", "prune")  # a worktree deleted by hand still holds its branch
        _git(root, "branch", "-D", "--", branch)


def prune_worktrees(root: Path) -> None:
    """Forget the worktrees whose directories are gone (git's own metadata under .git/worktrees)."""
    _git(root, "worktree", "prune")


def unmerged_commits(root: Path, branch: str, base: str) -> int:
    """How many commits of ``branch`` are not in ``base`` (0 when either is missing)."""
    if not branch_exists(root, branch):
        return 0
    if _git(root, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}", ok=(0, 1)).status:
        return 0
    return int(_git(root, "rev-list", "--count", f"{base}..refs/heads/{branch}").text or 0)


def ignored_files(root: Path, patterns_file: Path) -> list[str]:
    """The ignored, untracked files of ``root``'s checkout that the gitignore-style patterns in
    ``patterns_file`` match (what ``.worktreeinclude`` brings into a new worktree)."""
    out = _git(
        root,
        "ls-files",
        "-z",
        "--others",
        "--ignored",
        f"--exclude-from={patterns_file}",
    )
    ignored = set(
        _nul_fields(
            _git(root, "ls-files", "-z", "--others", "--ignored", "--exclude-standard").stdout
        )
    )
    return sorted(path for path in _nul_fields(out.stdout) if path in ignored)


def has_submodules(worktree: Path) -> bool:
    return (Path(worktree) / ".gitmodules").is_file()


def init_submodules(worktree: Path) -> str:
    """``git submodule update --init --recursive`` in ``worktree``; git's output."""
    return _git(worktree, "submodule", "update", "--init", "--recursive").text


def add_detached_worktree(root: Path, path: Path, commit: str, *, checkout: bool = True) -> None:
    """A spare worktree at ``path`` at ``commit`` on no branch (the warm pool); without
    ``checkout`` only registered (``finish_checkout`` writes its files)."""
    path = _absolute(root, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    no_checkout = () if checkout else ("--no-checkout",)
    _git(root, "worktree", "add", "--quiet", "--detach", *no_checkout, "--", str(path), commit)


def finish_checkout(worktree: Path) -> None:
    """Write the files and index of a worktree added with ``--no-checkout``."""
    _git(worktree, "reset", "--hard", "--quiet")


def move_worktree(root: Path, path: Path, target: Path) -> None:
    _git(root, "worktree", "move", "--", str(_absolute(root, path)), str(_absolute(root, target)))


def head_commit(worktree: Path) -> str | None:
    """HEAD's commit in ``worktree``, or None on an unborn branch."""
    return _head(worktree)


def switch_to_new_branch(
    worktree: Path, branch: str, start: str, *, known_head: str | None = None
) -> None:
    """Check out a new ``branch`` at ``start`` in ``worktree`` (touches only the files that
    differ): a spare worktree becoming a card's. A spare already at ``start`` (the base has not
    moved) only gets the branch: no file, no index entry changes, nothing to stat.
    ``known_head``: the worktree's HEAD commit, known for sure (the warm pool's record of a
    spare nothing touched since), with ``start`` a commit id: neither is asked of git."""
    if known_head is not None:
        same = known_head == start
    else:
        same = _head(worktree) == _commit(worktree, start)
    if same:
        _git(worktree, "branch", "--", branch, start)
        _git(worktree, "symbolic-ref", "HEAD", f"refs/heads/{branch}")
        return
    _git(worktree, "checkout", "--quiet", "-B", branch, start)


def reset_to_detached(worktree: Path, commit: str, keep_ignored: Sequence[str] = ()) -> None:
    """Back to a clean checkout of ``commit`` on no branch: tracked changes dropped, untracked
    and ignored files removed except the ignored files named in ``keep_ignored``."""
    _git(worktree, "checkout", "--quiet", "--detach", "--force", commit)
    _git(worktree, "reset", "--hard", "--quiet", commit)
    excludes = [arg for path in keep_ignored for arg in ("-e", f"/{path}")]
    _git(worktree, "clean", "-fdxq", *excludes)


# --- reading and recording a worktree's state --------------------------------------------


def set_side_files(worktree: Path, patterns: Sequence[str], declared_by: str = "") -> None:
    """Keep an agent's own files (``patterns``, gitignore syntax) out of ``worktree``'s commits,
    diffs and dirty checks, and nothing else.

    They go to the worktree's own ``info/exclude`` (in its git dir, ``.git/worktrees/<id>/``),
    after a copy of the user's global excludes, and kanban-agents' git commands in the worktree
    read that file as ``core.excludesFile``. Git itself reads only the repository's shared
    ``info/exclude``, which would hide them in the user's checkout too: that one is left alone.
    No patterns: the file goes, so a profile hides only what it declares now.
    """
    path = _own_exclude_file(worktree)
    if path is None:
        return  # the main checkout: not a card's worktree
    if not patterns:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    configured = _git(worktree, "config", "--path", "--get", "core.excludesFile", ok=(0, 1)).text
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    user_excludes = Path(configured or os.path.join(config_home, "git", "ignore"))
    try:
        copied = user_excludes.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        copied = ""
    text = (
        "# Written by kanban-agents for its own git commands in this worktree (core.excludesFile).\n"
        + (f"# Your global excludes ({user_excludes}):\n{copied.rstrip()}\n" if copied else "")
        + f"# The agent's own files (profile {declared_by or '?'}'s side_files):\n"
        + "".join(f"{pattern}\n" for pattern in patterns)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", errors="surrogateescape")


def _own_exclude_file(worktree: Path) -> Path | None:
    """``info/exclude`` in a linked worktree's own git dir, read from its ``.git`` file (no git
    call: this is asked before every status and add)."""
    try:
        pointer = (Path(worktree) / ".git").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):  # a directory in the main checkout, or no .git
        return None
    if not pointer.startswith("gitdir:"):
        return None
    gitdir = Path(pointer[len("gitdir:") :].strip())
    return (gitdir if gitdir.is_absolute() else Path(worktree) / gitdir) / "info" / "exclude"


def _side_file_args(worktree: Path) -> list[str]:
    path = _own_exclude_file(worktree)
    return ["-c", f"core.excludesFile={path}"] if path is not None and path.is_file() else []


def commit_all(
    worktree: Path, message: str, *, allow_mass_deletion: bool = False, branch: str | None = None
) -> str | None:
    """Commit everything in ``worktree`` (untracked files too); None when nothing changed.

    Refuses (``GitError``, nothing committed) a commit that would delete more than half of the
    files tracked at HEAD, unless ``allow_mass_deletion``: that is what an agent working in a
    worktree whose checkout went missing commits, and merged it would empty the base.

    With ``branch`` (a card's worktree), ``verify_card_worktree`` runs first, before anything is
    staged: a worktree whose ``.git`` file was pointed elsewhere is refused.
    """
    if branch is not None:
        verify_card_worktree(worktree, branch)
    _git(worktree, *_side_file_args(worktree), "add", "-A")
    if _git(worktree, "diff", "--cached", "--quiet", "--no-ext-diff", ok=(0, 1)).status == 0:
        return None
    if not allow_mass_deletion:
        _refuse_mass_deletion(worktree)
    # --no-verify: this records an agent's work as it is; hooks belong to the review and merge.
    _git(worktree, *identity_args(worktree), "commit", "--quiet", "--no-verify", "-m", message)
    return rev_parse(worktree, "HEAD")


_COMMIT_PATHS_LOCK = threading.Lock()  # one index: this process's card commits wait in turn


def commit_paths(root: Path, paths: Sequence[Path], message: str) -> str | None:
    """Commit exactly ``paths`` as they are on disk (new, changed or gone), nothing else: what
    the user has staged stays staged and uncommitted. None when they have no change to commit.
    For ``[board] auto_commit``: the card files the app wrote."""
    names = [os.path.relpath(path, root) for path in paths]
    with _COMMIT_PATHS_LOCK:
        known = _git(root, "ls-files", "-z", "--", *names).stdout.split(b"\0")
        names = [n for n in names if (root / n).exists() or os.fsencode(n) in known]
        if not names:
            return None
        # --only: a commit of these paths alone, from a temporary index; the real index keeps
        # the user's staged changes. Adding first is what lets --only take a new file.
        _git(root, "add", "--all", "--", *names)
        if _git(root, "diff", "--cached", "--quiet", "--no-ext-diff", "HEAD", "--", *names,
                ok=(0, 1)).status == 0:  # fmt: skip
            return None
        # --no-verify: a bookkeeping commit of the board, not the user's work to check
        _git(root, *identity_args(root), "commit", "--quiet", "--no-verify", "-m", message,
             "--only", "--", *names)  # fmt: skip
        return rev_parse(root, "HEAD")


def verify_card_worktree(worktree: Path, branch: str) -> None:
    """``GitError`` unless ``worktree`` is still a linked worktree of its repository with
    ``branch`` checked out.

    Git finds a worktree's repository through its ``.git`` file, which anything running in the
    worktree can rewrite: pointed at the main git dir, "the worktree" is the main checkout's
    index and HEAD, and a commit there lands on the user's branch. A genuine linked worktree has
    its git dir at ``<common dir>/worktrees/<name>``, whose ``gitdir`` file points back at the
    worktree's own ``.git``.
    """
    worktree = Path(worktree)
    out = _git(worktree, "rev-parse", "--absolute-git-dir", "--git-common-dir").text.splitlines()
    git_dir = Path(out[0]).resolve()
    common = (worktree / out[1]).resolve() if len(out) > 1 else git_dir
    try:
        back: Path | None = Path((git_dir / "gitdir").read_text(encoding="utf-8").strip())
    except OSError:
        back = None
    expected = (worktree / ".git").resolve()
    if git_dir.parent != common / "worktrees" or back is None or back.resolve() != expected:
        raise GitError(
            f"refusing to commit in {worktree}: it is not the card's worktree any more (its git "
            f"dir is {git_dir}, not its own under {common / 'worktrees'}); was its .git file "
            "rewritten? Nothing was committed"
        )
    head = _git(worktree, "symbolic-ref", "--quiet", "HEAD", ok=(0, 1)).text
    if head != f"refs/heads/{branch}":
        raise GitError(
            f"refusing to commit in {worktree}: HEAD is {head or 'detached'}, not the card's "
            f"branch refs/heads/{branch}. Nothing was committed"
        )


def _refuse_mass_deletion(worktree: Path) -> None:
    head = _head(worktree)
    if head is None:
        return
    deleted = _nul_fields(
        _git(worktree, "diff", "--cached", "-z", "--name-only", "--no-renames",
             "--diff-filter=D", head).stdout
    )  # fmt: skip
    problem = _mass_deletion(worktree, head, deleted)
    if problem:
        raise GitError(
            f"refusing to commit in {worktree}: it would {problem}. If the card really means "
            "to, set 'allow_mass_deletion: true' in its front matter and run it again"
        )


def _mass_deletion(root: Path, old: str, deleted: Iterable[str]) -> str | None:
    """Says what is deleted if ``deleted`` is more than half of the files tracked at ``old``."""
    deleted = sorted(deleted)
    if not deleted:
        return None
    tracked = len(_nul_fields(_git(root, "ls-tree", "-r", "-z", "--name-only", old).stdout))
    if len(deleted) * 2 <= tracked:
        return None
    return f"delete {len(deleted)} of the {tracked} files ({_path_list(deleted, 5)})"


_SCRATCH_LOCKS: dict[Path, threading.Lock] = {}
_SCRATCH_LOCKS_GUARD = threading.Lock()
_GIT_PATHS: dict[tuple[Path, str], Path] = {}


def _git_path(worktree: Path, name: str) -> Path:
    """``git rev-parse --git-path name``, remembered: it does not change for a worktree."""
    key = (Path(worktree), name)
    path = _GIT_PATHS.get(key)
    if path is None or not path.parent.exists():
        path = Path(_git(worktree, "rev-parse", "--git-path", name).text)
        if not path.is_absolute():
            path = Path(worktree) / path
        _GIT_PATHS[key] = path
    return path


def _index_stamp(path: Path) -> str:
    try:
        st = path.stat()
    except FileNotFoundError:
        return "none"
    return f"{st.st_ino} {st.st_size} {st.st_mtime_ns}"


@contextlib.contextmanager
def _scratch_index(worktree: Path) -> Iterator[dict[str, str]]:
    """An environment whose index holds ``worktree``'s whole state; the real index is untouched.

    The scratch index lives beside the worktree's own index and is kept between calls: after the
    first ``add -A`` its stat cache is fresh, so later calls re-hash only what changed (a copy of
    the real index made anew each time would carry the same "racily clean" entries, which git
    re-hashes every time). It is seeded again from the real index whenever that one changes (a
    commit, a ``git add``), and used by one thread at a time.
    """
    real = _git_path(worktree, "index")
    scratch = _git_path(worktree, "kanban-agents-index")
    with _SCRATCH_LOCKS_GUARD:
        lock = _SCRATCH_LOCKS.setdefault(scratch, threading.Lock())
    with lock:
        stamp_file = scratch.with_name(scratch.name + ".seed")
        stamp = _index_stamp(real)
        try:
            seeded = stamp_file.read_text() == stamp and scratch.exists()
        except OSError:
            seeded = False
        if not seeded:
            if real.exists():
                shutil.copy2(real, scratch)  # copy2 keeps the mtime git's racy check relies on
            else:
                with contextlib.suppress(FileNotFoundError):
                    scratch.unlink()
            stamp_file.write_text(stamp)
        env = {"GIT_INDEX_FILE": str(scratch)}
        try:
            _git(worktree, *_side_file_args(worktree), "add", "-A", env=env)
        except GitError:
            # e.g. a stale lock left by a killed process: start over from the real index
            with contextlib.suppress(OSError):
                stamp_file.unlink()
            for leftover in (scratch, scratch.with_name(scratch.name + ".lock")):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
            raise
        yield env


def worktree_diff(
    worktree: Path, base_ref: str, *, max_patch_lines: int | None = None
) -> WorktreeDiff:
    """Everything ``worktree`` changes since it forked from ``base_ref``, uncommitted included."""
    merge_base = _merge_base(worktree, base_ref, "HEAD")
    with _scratch_index(worktree) as env:
        try:  # the worktree's state as a tree: the same tree, the same diff
            tree = _git(worktree, "write-tree", env=env).text
        except GitError:
            tree = None
        cached = _DIFFS.get((merge_base, tree, max_patch_lines)) if tree else None
        if cached is not None:
            return _with_base(cached, base_ref)
        out = _git(worktree, "diff", "--cached", *_diff_arguments(merge_base), env=env)
    diff = _worktree_diff_from(out.stdout, base_ref, merge_base, max_patch_lines)
    if tree:
        _DIFFS.put((merge_base, tree, max_patch_lines), diff)
    return diff


def branch_diff(
    root: Path, base_ref: str, branch: str, *, max_patch_lines: int | None = None
) -> WorktreeDiff:
    """What ``branch`` changes since it forked from ``base_ref`` (for a branch with no worktree)."""
    merge_base = _merge_base(root, base_ref, branch)
    key = (merge_base, rev_parse(root, branch), max_patch_lines)
    cached = _DIFFS.get(key)
    if cached is not None:
        return _with_base(cached, base_ref)
    out = _git(root, "diff", *_diff_arguments(merge_base), key[1], "--")
    diff = _worktree_diff_from(out.stdout, base_ref, merge_base, max_patch_lines)
    _DIFFS.put(key, diff)
    return diff


class _DiffCache:
    """The last few diffs by (fork point, tree or commit, patch limit): both sides named by
    their object ids, a diff never changes. Opening a card's Diff tab again costs a
    ``write-tree`` (~10 ms) instead of the diff and its parsing (~0.1 s for 20,000 lines)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._diffs: dict[tuple, WorktreeDiff] = {}  # oldest first
        self._lock = threading.Lock()

    def get(self, key: tuple) -> WorktreeDiff | None:
        with self._lock:
            diff = self._diffs.pop(key, None)
            if diff is not None:
                self._diffs[key] = diff
            return diff

    def put(self, key: tuple, diff: WorktreeDiff) -> None:
        with self._lock:
            self._diffs.pop(key, None)
            self._diffs[key] = diff
            while len(self._diffs) > self._size:
                del self._diffs[next(iter(self._diffs))]


_DIFFS = _DiffCache(8)


def _with_base(diff: WorktreeDiff, base_ref: str) -> WorktreeDiff:
    return WorktreeDiff(base_ref, diff.merge_base, list(diff.files))  # its own list of files


def _diff_arguments(merge_base: str) -> list[str]:
    # One call, summary and patch: the same diff queue, so both list files in the same order.
    return [
        *_DIFF_OPTIONS,
        "-z",
        "--raw",
        "--numstat",
        "--patch",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        merge_base,
    ]


def _worktree_diff_from(
    stdout: bytes, base_ref: str, merge_base: str, max_patch_lines: int | None
) -> WorktreeDiff:
    summary, _, patch = stdout.partition(b"\0\0")
    entries = _parse_summary(summary)
    patches = _file_patches(patch)
    if len(patches) != len(entries):  # never seen; degrade to counts rather than mislabel
        patches = [b""] * len(entries)
    files = [
        _diff_file(entry, text, max_patch_lines)
        for entry, text in zip(entries, patches, strict=True)
    ]
    return WorktreeDiff(base_ref=base_ref, merge_base=merge_base, files=files)


def _file_patches(patch: bytes) -> list[bytes]:
    """The patch cut before each ``diff --git`` line (inside a hunk every line starts with its
    mark, so such a line is always a file's header). ``bytes.split``, not a regex: a regex
    looking at every line start of a 20,000-line patch takes ~80 ms here, the split ~1 ms."""
    pieces = patch.split(b"\n" + _FILE_HEADER)
    first = pieces[0]
    patches = [first + b"\n"] if len(pieces) > 1 else [first]
    patches += [_FILE_HEADER + piece + b"\n" for piece in pieces[1:-1]]
    if len(pieces) > 1:
        patches.append(_FILE_HEADER + pieces[-1])
    return [p for p in patches if p]


@dataclass
class _Entry:
    status: str
    path: str
    old_path: str | None
    added: int = 0
    deleted: int = 0
    binary: bool = False


def _parse_summary(summary: bytes) -> list[_Entry]:
    """Parse ``--raw --numstat -z``: all raw records, then one numstat record per file."""
    fields = iter(summary.split(b"\0"))
    entries: list[_Entry] = []
    stats: list[tuple[str, str]] = []
    for field in fields:
        if field.startswith(b":"):
            letter = field.split()[-1][:1].decode()
            first = os.fsdecode(next(fields))
            if letter in ("R", "C"):
                entries.append(_Entry("R", os.fsdecode(next(fields)), first))
            else:
                entries.append(_Entry(letter if letter in "ADM" else "M", first, None))
        elif field:
            added, deleted, path = field.split(b"\t", 2)
            if not path:  # a rename: the two names follow
                next(fields)
                next(fields)
            stats.append((added.decode(), deleted.decode()))
    for entry, (added, deleted) in zip(entries, stats, strict=False):
        entry.binary = added == "-"
        entry.added = 0 if entry.binary else int(added)
        entry.deleted = 0 if entry.binary else int(deleted)
    return entries


def _diff_file(entry: _Entry, patch: bytes, max_patch_lines: int | None) -> DiffFile:
    changed = entry.added + entry.deleted
    if entry.binary:
        skipped: str | None = "binary"
    elif max_patch_lines is not None and changed > max_patch_lines:
        skipped = f"large ({changed} lines)"
    elif not patch:
        skipped = "no patch"
    else:
        skipped = None
    return DiffFile(
        path=entry.path,
        old_path=entry.old_path,
        status=entry.status,
        added=entry.added,
        deleted=entry.deleted,
        binary=entry.binary,
        patch="" if skipped else patch.decode("utf-8", "replace"),
        skipped=skipped,
    )


def check_attributes(root: Path, paths: list[str], names: tuple[str, ...]) -> dict[str, dict]:
    """``.gitattributes`` values of ``paths`` in ``root``'s checkout: {path: {name: value}}, a
    value being "set", "unset", "unspecified" or the attribute's text."""
    found: dict[str, dict] = {}
    for chunk in range(0, len(paths), 500):  # a long diff's paths in a few command lines
        out = _git(root, "check-attr", "-z", *names, "--", *paths[chunk : chunk + 500])
        fields = out.stdout.split(b"\0")
        for i in range(0, len(fields) - 2, 3):
            path, name, value = (os.fsdecode(f) for f in fields[i : i + 3])
            found.setdefault(path, {})[name] = value
    return found


def file_lines(root: Path, rev: str, path: str) -> list[str] | None:
    """The lines of ``path`` as commit ``rev`` has it; None when it has no such file."""
    out = _git(root, "cat-file", "blob", f"{rev}:{path}", ok=(0, 128))
    if out.status != 0:
        return None
    return out.stdout.decode("utf-8", "replace").splitlines()


def snapshot_commit(worktree: Path) -> str:
    """A commit of ``worktree`` as it is now, on top of HEAD, that no ref points to."""
    with _scratch_index(worktree) as env:
        tree = _git(worktree, "write-tree", env=env).text
    head = _head(worktree)
    parents = ["-p", head] if head else []
    identity = identity_args(worktree)
    return _git(worktree, *identity, "commit-tree", tree, *parents, "-m", "snapshot").text


# --- what a run must not change outside its worktree --------------------------------------


def ref_snapshot(root: Path) -> dict[str, str]:
    """Every branch and tag of ``root``'s repository with the object it names, and ``HEAD`` of
    ``root``'s checkout (``ref: <name>`` when it is on a branch)."""
    out = _git(root, "for-each-ref", "--format=%(refname)%00%(objectname)", "refs/heads",
               "refs/tags")  # fmt: skip
    refs = {}
    for line in out.stdout.decode("utf-8", "surrogateescape").splitlines():
        name, _, value = line.partition("\0")
        refs[name] = value
    branch = _git(root, "symbolic-ref", "--quiet", "HEAD", ok=(0, 1))
    refs["HEAD"] = f"ref: {branch.text}" if branch.status == 0 else (_head(root) or "")
    return refs


def carries_new_work(root: Path, value: str, tip: str, known: Iterable[str]) -> bool:
    """Does the commit ``value`` contain a commit of ``tip``'s history that none of ``known``
    (commits) contains: work done on ``tip``'s branch since ``known`` were read? The newest
    commits ``value`` and ``tip`` share are enough to look at: a commit is new only if every
    commit built on it is new too."""
    bases = _git(root, "merge-base", "--all", value, tip, ok=(0, 1))
    shared = bases.text.split()
    if not shared:
        return False
    fresh = _git(root, "rev-list", "-n1", *shared, "--not", *known, "--")
    return bool(fresh.text)


def control_files(worktree: Path) -> dict[str, str]:
    """A digest of each file that makes git run something or decides what it does: the shared
    ``config``, ``hooks/`` and ``info/``, and the worktree's own ``config.worktree``. Keys are
    paths as a user finds them (``.git/hooks/post-merge``)."""
    import hashlib

    out = _git(worktree, "rev-parse", "--absolute-git-dir", "--git-common-dir").text.splitlines()
    git_dir = Path(out[0]).resolve()
    common = (Path(worktree) / out[1]).resolve() if len(out) > 1 else git_dir
    places = [common / "config", common / "hooks", common / "info"]
    if git_dir != common:
        places.append(git_dir / "config.worktree")
    digests: dict[str, str] = {}
    for place in places:
        files = sorted(p for p in place.rglob("*") if not p.is_dir()) if place.is_dir() else [place]
        for path in files:
            try:
                mode = path.lstat().st_mode
                data = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
            except OSError:
                continue
            shown = os.path.join(common.name, os.path.relpath(path, common))
            digests[shown] = f"{mode:o} {hashlib.sha256(data).hexdigest()}"
    return digests


def control_file_changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """What changed between two ``control_files`` digests, one line per file."""
    changes = [f"added {p}" for p in after if p not in before]
    changes += [f"changed {p}" for p in after if p in before and after[p] != before[p]]
    changes += [f"removed {p}" for p in before if p not in after]
    return sorted(changes, key=lambda line: line.split(" ", 1)[1])


# --- merging -----------------------------------------------------------------------------


def merge_check(root: Path, base_ref: str, other: str) -> MergeCheck:
    """Would ``other`` merge into ``base_ref`` cleanly? Checked with no checkout at all."""
    ours, theirs = _commit(root, base_ref), _commit(root, other)
    out = _git(
        root,
        "merge-tree",
        "--write-tree",
        "--name-only",
        "--no-messages",
        "-z",
        ours,
        theirs,
        ok=(0, 1),
    )
    tree, *names = out.stdout.split(b"\0")
    if not tree.strip():  # exit 1 is also how merge-tree reports bad arguments
        raise GitError(_failure(["merge-tree"], out.status, out.stderr, b""))
    conflicts = list(dict.fromkeys(os.fsdecode(n) for n in names if n))
    if out.status == 0:
        return MergeCheck(True, tree.decode(), [], f"'{other}' merges cleanly into '{base_ref}'")
    message = f"'{other}' conflicts with '{base_ref}' in {_path_list(conflicts)}"
    return MergeCheck(False, tree.decode(), conflicts, message)


def merge_card_branch(
    root: Path,
    base: str,
    branch: str,
    *,
    strategy: str = "merge",
    message: str,
    worktree: Path | None = None,
    allow_mass_deletion: bool = False,
    on_commit: Callable[[str, str], None] | None = None,
    run_hooks: bool = False,
) -> MergeResult:
    """Merge a card's ``branch`` into the ``base`` branch: the review gate's final step.

    The new base commit is built with plumbing (no checkout); base then moves forward, by a
    fast-forward in the worktree that has it checked out (usually the main checkout) or by
    ``update-ref`` when none does. Refuses, changing nothing, on conflicts, on a card worktree
    with uncommitted work (it would not be in the merge), on uncommitted or ignored files in
    the base checkout that the merge would overwrite, and on a merge that would delete more than
    half of the base's files (unless ``allow_mass_deletion``).

    ``on_commit(new, old)`` is called once the new base commit exists and before the base moves
    to it, so a caller can record it: interrupted after that, the base has it or is unchanged.

    ``run_hooks``: the user's hooks run for the step that moves the base (``post-merge`` in the
    base checkout, ``reference-transaction``); otherwise no hook runs (``[review] run_hooks``).
    """
    if strategy not in MERGE_STRATEGIES:
        raise ValueError(f"unknown merge strategy {strategy!r}; use one of {MERGE_STRATEGIES}")
    old = _branch_tip(root, base)
    tip = _branch_tip(root, branch)
    if is_ancestor(root, tip, old):
        raise GitError(f"nothing to merge: '{branch}' has no commits that are not in '{base}'")
    check = merge_check(root, old, tip)
    if not check.clean:
        raise MergeConflict(
            check.conflicts,
            f"cannot merge '{branch}' into '{base}': both changed {_path_list(check.conflicts)}",
        )
    assert check.tree is not None
    if not allow_mass_deletion:
        problem = _mass_deletion(root, old, _tree_changes(root, old, check.tree, only="D"))
        if problem:
            raise GitError(
                f"refusing to merge '{branch}' into '{base}': it would {problem}. If the card "
                "really means to, set 'allow_mass_deletion: true' in its front matter"
            )

    card_worktree = worktree
    if strategy == "rebase" and card_worktree is None:
        card_worktree = checked_out_in(root, branch)
        if card_worktree is None:
            raise GitError(f"cannot rebase '{branch}': it is not checked out in any worktree")
    if card_worktree is not None:
        unsaved = dirty_paths(card_worktree)
        if unsaved:
            raise GitError(
                f"cannot merge '{branch}': its worktree has uncommitted changes "
                f"({_path_list(sorted(unsaved))}) that would not be in the merge; commit them first"
            )

    base_checkout = checked_out_in(root, base)
    if base_checkout is not None:
        _refuse_files_in_the_way(root, base_checkout, base, branch, old, check.tree)

    if strategy == "merge":
        new = _commit_tree(root, check.tree, [old, tip], message)
    elif strategy == "squash":
        new = _commit_tree(root, check.tree, [old], message)
    else:
        assert card_worktree is not None
        new = _rebase(card_worktree, branch, base, old)
        if base_checkout is not None:  # replayed commits may differ from the merge-tree result
            _refuse_files_in_the_way(root, base_checkout, base, branch, old, new)

    if on_commit is not None:
        on_commit(new, old)
    if base_checkout is not None:
        _git(base_checkout, "merge", "--ff-only", "--quiet", "--no-autostash", new,
             run_hooks=run_hooks)  # fmt: skip
    else:
        reason = f"kanban-agents: {strategy} {branch}"
        _git(root, "update-ref", "-m", reason, f"refs/heads/{base}", new, old, run_hooks=run_hooks)
    return MergeResult(commit=new, strategy=strategy, base=base, previous=old)


def _commit_tree(root: Path, tree: str, parents: list[str], message: str) -> str:
    parent_args = [arg for parent in parents for arg in ("-p", parent)]
    identity = identity_args(root)
    return _git(root, *identity, "commit-tree", tree, *parent_args, "-m", message).text


def _refuse_files_in_the_way(
    root: Path, checkout: Path, base: str, branch: str, old: str, new: str
) -> None:
    """Refuse if fast-forwarding ``checkout`` from ``old`` to ``new`` would clobber local files.

    Uncommitted edits to files the merge changes would be overwritten (git refuses too, but we
    say why in plain words). Ignored files where the merge adds tracked ones git would replace
    without a word, so those are checked here.
    """
    changed = _tree_changes(root, old, new)
    in_the_way = dirty_paths(checkout) & changed
    for path in _tree_changes(root, old, new, only="A"):
        if _untracked_in_the_way(checkout, path, changed):
            in_the_way.add(path)
    if in_the_way:
        raise GitError(
            f"cannot merge '{branch}' into '{base}': you have local changes in {checkout} to "
            f"files the merge changes: {_path_list(sorted(in_the_way))}. "
            "Commit or stash them, then merge again."
        )


def _untracked_in_the_way(checkout: Path, added: str, changed: set[str]) -> bool:
    """Is there a file git does not track (often an ignored one) where ``added`` will go?

    ``added`` is not tracked at the checkout's HEAD, so anything at its place is untracked:
    a file or link at the path itself, or a file standing where one of its directories goes
    (unless that file is tracked and the merge removes it).
    """
    target = checkout / added
    if target.is_dir() and not target.is_symlink():
        # Fine only if it is a tracked directory that the merge replaces by a file.
        return not any(path.startswith(f"{added}/") for path in changed)
    if os.path.lexists(target):
        return True
    parts = added.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        parent = "/".join(parts[:depth])
        place = checkout / parent
        if (place.is_symlink() or place.is_file()) and parent not in changed:
            return True
    return False


def _rebase(worktree: Path, branch: str, base: str, onto: str) -> str:
    """Rebase ``branch`` (checked out in ``worktree``) onto ``onto``; abort cleanly on conflict."""
    if current_branch(worktree) != branch:
        raise GitError(f"cannot rebase '{branch}': {worktree} does not have it checked out")
    if _rebase_in_progress(worktree):
        raise GitError(f"cannot rebase '{branch}': a rebase is already in progress in {worktree}")
    out = _git(
        worktree,
        *identity_args(worktree),
        "rebase",
        "--quiet",
        "--no-verify",
        "--no-autostash",
        "--no-autosquash",
        "--no-update-refs",
        onto,
        env={"GIT_EDITOR": "true"},
        ok=range(256),
    )
    if out.status != 0:
        conflicts = _nul_fields(
            _git(worktree, "diff", "--name-only", "-z", "--diff-filter=U").stdout
        )
        stopped = _git(worktree, "log", "-1", "--format=%h %s", "REBASE_HEAD", "--", ok=(0, 128))
        if _rebase_in_progress(worktree):
            _git(worktree, "rebase", "--abort")
        if conflicts:
            commit = stopped.text if stopped.status == 0 else ""
            raise MergeConflict(
                conflicts,
                f"cannot rebase '{branch}' onto '{base}': "
                + (f"its commit {commit} conflicts" if commit else "its commits conflict")
                + f" in {_path_list(conflicts)} (the rebase was aborted)",
                commit,
            )
        raise GitError(_failure(["rebase"], out.status, out.stderr, out.stdout))
    new = _commit(worktree, f"refs/heads/{branch}")
    if not is_ancestor(worktree, onto, new):
        raise GitError(f"rebasing '{branch}' onto '{base}' did not produce a fast-forward")
    return new


def _rebase_in_progress(worktree: Path) -> bool:
    for name in ("rebase-merge", "rebase-apply"):
        path = Path(_git(worktree, "rev-parse", "--git-path", name).text)
        if (path if path.is_absolute() else Path(worktree) / path).exists():
            return True
    return False


# --- a card's branch onto its base's tip, and its remote ----------------------------------


def rebase_branch(worktree: Path, branch: str, base: str, onto: str) -> str:
    """Rebase ``branch`` (checked out in ``worktree``) onto the commit ``onto`` (``base``'s
    tip); on a conflict it is aborted, nothing changed, and ``MergeConflict`` names the files."""
    return _rebase(worktree, branch, base, onto)


def abort_rebase(worktree: Path) -> bool:
    """Abort a rebase a killed process left in ``worktree``; False when there was none."""
    if not _rebase_in_progress(worktree):
        return False
    _git(worktree, "rebase", "--abort")
    return True


def remote_url(root: Path, remote: str) -> str | None:
    """The URL of ``remote``, or None when the repository has no such remote."""
    out = _git(root, "remote", "get-url", remote, ok=(0, 2, 128))
    return out.text if out.status == 0 and out.text else None


def push_branch(root: Path, remote: str, branch: str) -> None:
    """Push ``branch`` (that one ref only, forced with lease: a rebase rewrites it) to ``remote``
    and set it as its upstream."""
    ref = f"refs/heads/{branch}"
    _git(root, "push", "--quiet", "--force-with-lease", "--set-upstream", remote, f"{ref}:{ref}")

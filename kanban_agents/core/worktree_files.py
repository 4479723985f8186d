"""The files a new worktree gets beyond its checkout: the ignored files ``.worktreeinclude``
names (gitignore-style patterns at the repository root, the convention other agent tools use)
and the globs of ``[worktrees] copy_files``.

They are copied, never linked: an agent writing to its ``.env`` must not write into the user's
checkout. Where the filesystem can share blocks (btrfs, XFS: a reflink), the copy costs no space
until one side changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
from collections.abc import Sequence
from pathlib import Path

from . import git

INCLUDE_FILE = ".worktreeinclude"
_FICLONE = 0x40049409  # linux/fs.h: share the source's blocks (a reflink)


def files_to_copy(repo: Path, copy_globs: Sequence[str]) -> list[str]:
    """Paths relative to ``repo``: the ignored files ``.worktreeinclude`` matches, then the files
    the ``copy_files`` globs match; each once, in that order."""
    found: dict[str, None] = {}
    include = repo / INCLUDE_FILE
    if include.is_file():
        for path in git.ignored_files(repo, include):
            found[path] = None
    for pattern in copy_globs:
        for source in sorted(repo.glob(pattern)):
            if source.is_file():
                found[source.relative_to(repo).as_posix()] = None
    return list(found)


def unmatched_globs(repo: Path, copy_globs: Sequence[str]) -> list[str]:
    return [pattern for pattern in copy_globs if not any(repo.glob(pattern))]


def copy_file(source: Path, target: Path) -> None:
    """Copy contents and mode (a reflink where the filesystem supports it); a symlink's target
    is copied, never the link."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as src, open(target, "wb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
        except OSError:  # no reflinks here (ext4, tmpfs, another filesystem): a real copy
            shutil.copyfileobj(src, dst, 1 << 20)
    with contextlib.suppress(OSError):
        shutil.copystat(source, target)


def copy_into(repo: Path, worktree: Path, paths: Sequence[str]) -> list[str]:
    """Copy ``paths`` from ``repo`` into ``worktree``, never over a file already there; the
    paths copied."""
    copied = []
    for relative in paths:
        source, target = repo / relative, worktree / relative
        if not source.is_file() or target.exists() or target.is_symlink():
            continue
        copy_file(source, target)
        copied.append(relative)
    return copied


def kept_ignored_files(repo: Path, worktree: Path) -> list[str]:
    """The ignored files of ``worktree`` that its ``.worktreeinclude`` (or the repository's)
    names: what a spare worktree keeps when it goes back to the pool."""
    include = worktree / INCLUDE_FILE
    if not include.is_file():
        include = repo / INCLUDE_FILE
    if not include.is_file():
        return []
    return git.ignored_files(worktree, include)

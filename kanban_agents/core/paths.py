"""Where things live: the repository around a board, and the app's state inside its git dir.

Run logs and locks go under ``<git-common-dir>/kanban-agents/``: out of the board (so they never
show as card changes), out of every worktree (so agents cannot touch them), shared by all
worktrees of the repository. Found by walking up for ``.git``, without spawning git.
"""

from __future__ import annotations

from pathlib import Path

STATE_DIR_NAME = "kanban-agents"


def repo_root(start: Path) -> Path | None:
    """The top of the git work tree containing ``start``, or None."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def git_common_dir(root: Path) -> Path:
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git
    # A linked worktree: ".git" is a file pointing at .git/worktrees/<name>, whose "commondir"
    # file points back at the main git dir.
    text = dot_git.read_text(encoding="utf-8").strip()
    if not text.startswith("gitdir:"):
        raise OSError(f"{dot_git}: not a gitdir file")
    gitdir = (root / text.split(":", 1)[1].strip()).resolve()
    common = gitdir / "commondir"
    if common.is_file():
        return (gitdir / common.read_text(encoding="utf-8").strip()).resolve()
    return gitdir


def state_dir(board_dir: Path) -> Path | None:
    root = repo_root(board_dir)
    if root is None:
        return None
    return git_common_dir(root) / STATE_DIR_NAME


def worktree_root(repo: Path, settings) -> Path:
    """Where the board's worktrees go: ``[worktrees] root``, else ``<repo>/../<repo>-worktrees``."""
    configured = settings.worktrees.root
    if configured:
        root = Path(configured).expanduser()
        return root if root.is_absolute() else (repo / root).resolve()
    return repo.parent / f"{repo.name}-worktrees"

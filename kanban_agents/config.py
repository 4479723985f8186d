"""One typed Settings object: the board's ``kanban.toml``, then ``KANBAN_AGENTS_*`` overrides.

Every key has a default, so a board directory without ``kanban.toml`` works. The README's
configuration reference is the user-facing copy of this file; keep them in step.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

CONFIG_FILE = "kanban.toml"
ENV_PREFIX = "KANBAN_AGENTS_"


class ConfigError(Exception):
    """kanban.toml or an environment override is not usable; the message says what to fix."""


@dataclass(frozen=True)
class ColumnConfig:
    id: str
    title: str
    wip: int | None = None


@dataclass(frozen=True)
class AgentProfile:
    """How one agent is run: the built-in loop over an OpenAI-compatible API, or a command."""

    name: str
    kind: str = "openai"  # "openai" | "command"
    # built-in agent
    model: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    max_steps: int = 60
    max_wall_seconds: float = 1800.0
    max_tokens: int = 400_000
    temperature: float | None = None
    request_timeout: float = 60.0  # the longest wait for the server's first (or next) byte
    retry_budget: float = 150.0  # seconds a model request may keep failing before the run fails
    retry_after_cap: float = 60.0  # the longest wait a server's Retry-After can ask for
    # command agent: argv template with {prompt} / {prompt_file} / {worktree} / {card_id}
    command: tuple[str, ...] = ()
    description: str = ""


DEFAULT_COLUMNS = (
    ColumnConfig("todo", "To Do"),
    ColumnConfig("in-progress", "In Progress"),
    ColumnConfig("review", "Review"),
    ColumnConfig("done", "Done"),
)

# Example command profiles that ship with the app; a board can override or add more.
EXAMPLE_COMMAND_PROFILES = (
    AgentProfile(
        name="codex",
        kind="command",
        command=("codex", "exec", "--full-auto", "{prompt}"),
        description="OpenAI Codex CLI, non-interactive",
    ),
    AgentProfile(
        name="claude",
        kind="command",
        command=("claude", "-p", "{prompt}", "--permission-mode", "acceptEdits"),
        description="Claude Code in print mode, allowed to edit files",
    ),
    AgentProfile(
        name="aider",
        kind="command",
        command=("aider", "--yes-always", "--no-auto-commits", "--message-file", "{prompt_file}"),
        description="aider with the card as its message, no commits of its own",
    ),
)


@dataclass(frozen=True)
class BoardSettings:
    columns: tuple[ColumnConfig, ...] = DEFAULT_COLUMNS
    agent_column: str = "in-progress"
    review_column: str = "review"
    done_column: str = "done"
    archive_dir: str = ".archive"


@dataclass(frozen=True)
class WorktreeSettings:
    root: str = ""  # empty: <repo>/../<repo-name>-worktrees
    branch_prefix: str = "kanban/"
    base_branch: str = ""  # empty: the current HEAD's branch
    copy_files: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()
    setup_timeout: float = 600.0


@dataclass(frozen=True)
class RunSettings:
    concurrency: int = 3
    hold_on_overlap: bool = False
    test_attempts: int = 3
    test_timeout: float = 600.0
    command_timeout: float = 120.0
    output_cap: int = 30_000


@dataclass(frozen=True)
class ReviewSettings:
    merge_strategy: str = "merge"  # merge | squash | rebase
    delete_branch: bool = True
    remove_worktree: bool = True


@dataclass(frozen=True)
class UISettings:
    theme: str = "textual-dark"
    log_max_lines: int = 50_000
    editor: str = ""  # empty: $VISUAL, $EDITOR, then vi


@dataclass(frozen=True)
class Settings:
    board: BoardSettings = field(default_factory=BoardSettings)
    worktrees: WorktreeSettings = field(default_factory=WorktreeSettings)
    runs: RunSettings = field(default_factory=RunSettings)
    review: ReviewSettings = field(default_factory=ReviewSettings)
    ui: UISettings = field(default_factory=UISettings)
    default_agent: str = "builtin"
    agents: dict[str, AgentProfile] = field(default_factory=dict)

    @property
    def column_ids(self) -> list[str]:
        return [c.id for c in self.board.columns]

    def column(self, column_id: str) -> ColumnConfig | None:
        return next((c for c in self.board.columns if c.id == column_id), None)

    @property
    def first_column(self) -> str:
        return self.board.columns[0].id

    def agent_profile(self, name: str | None = None) -> AgentProfile:
        name = name or self.default_agent
        try:
            return self.agents[name]
        except KeyError:
            known = ", ".join(sorted(self.agents)) or "none"
            raise ConfigError(f"unknown agent profile {name!r} (known: {known})") from None


SECTIONS = {
    "board": BoardSettings,
    "worktrees": WorktreeSettings,
    "runs": RunSettings,
    "review": ReviewSettings,
    "ui": UISettings,
}


def load_settings(board_dir: Path, environ: dict[str, str] | None = None) -> Settings:
    """Read ``board_dir/kanban.toml`` (if any), then apply ``KANBAN_AGENTS_*`` overrides."""
    environ = os.environ if environ is None else environ
    path = board_dir / CONFIG_FILE
    raw: dict[str, Any] = {}
    if path.is_file():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        return _build(raw, environ)
    except ConfigError as exc:
        raise ConfigError(f"{path.name}: {exc}") from None


def _build(raw: dict[str, Any], environ: dict[str, str]) -> Settings:
    unknown = set(raw) - set(SECTIONS) - {"agents"}
    if unknown:
        raise ConfigError(f"unknown section(s): {', '.join(sorted(unknown))}")
    sections = {}
    for name, cls in SECTIONS.items():
        table = dict(raw.get(name, {}))
        for f in fields(cls):
            env_value = environ.get(f"{ENV_PREFIX}{name.upper()}_{f.name.upper()}")
            if env_value is not None and f.name != "columns":
                table[f.name] = _parse_env(env_value, f.type)
        sections[name] = _make(cls, table, name)
    board: BoardSettings = sections["board"]
    _check_board(board)
    if sections["review"].merge_strategy not in ("merge", "squash", "rebase"):
        raise ConfigError("review.merge_strategy must be one of merge, squash, rebase")
    if sections["runs"].concurrency < 1:
        raise ConfigError("runs.concurrency must be at least 1")

    agents_raw = dict(raw.get("agents", {}))
    default_agent = str(environ.get(f"{ENV_PREFIX}AGENT") or agents_raw.pop("default", "builtin"))
    agents_raw.pop("default", None)
    agents: dict[str, AgentProfile] = {p.name: p for p in EXAMPLE_COMMAND_PROFILES}
    agents["builtin"] = AgentProfile(name="builtin")
    for name, table in agents_raw.items():
        if not isinstance(table, dict):
            raise ConfigError(f"[agents.{name}] must be a table")
        base = agents.get(name, AgentProfile(name=name))
        agents[name] = _make_profile(base, table)
    # Environment overrides for the built-in agents: handy for trying another model server.
    model_env = environ.get(f"{ENV_PREFIX}MODEL")
    base_url_env = environ.get(f"{ENV_PREFIX}BASE_URL")
    for name, profile in list(agents.items()):
        if profile.kind == "openai":
            agents[name] = replace(
                profile,
                model=model_env or profile.model,
                base_url=base_url_env or profile.base_url,
            )
    if default_agent not in agents:
        raise ConfigError(f"agents.default names unknown profile {default_agent!r}")
    return Settings(default_agent=default_agent, agents=agents, **sections)


def _make(cls: type, table: dict[str, Any], section: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"unknown key {section}.{key}")
        kwargs[key] = _coerce(value, known[key].type, f"{section}.{key}")
    return cls(**kwargs)


def _make_profile(base: AgentProfile, table: dict[str, Any]) -> AgentProfile:
    known = {f.name: f for f in fields(AgentProfile)}
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known or key == "name":
            raise ConfigError(f"unknown key agents.{base.name}.{key}")
        kwargs[key] = _coerce(value, known[key].type, f"agents.{base.name}.{key}")
    profile = replace(base, **kwargs)
    if "command" in kwargs and "kind" not in kwargs:
        profile = replace(profile, kind="command")
    if profile.kind not in ("openai", "command"):
        raise ConfigError(f"agents.{base.name}.kind must be 'openai' or 'command'")
    if profile.kind == "command" and not profile.command:
        raise ConfigError(f"agents.{base.name}: a command agent needs command = [...]")
    return profile


def _coerce(value: Any, type_name: Any, where: str) -> Any:
    t = str(type_name)
    if "ColumnConfig" in t:
        return _columns(value, where)
    if t.startswith("tuple[str"):
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ConfigError(f"{where} must be a list of strings")
    if t == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false")
        return value
    if t.startswith("int"):
        if value is None and "None" in t:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer")
        return value
    if t.startswith("float"):
        if value is None and "None" in t:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} must be a number")
        return float(value)
    if t.startswith("str"):
        if value is None and "None" in t:
            return None
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string")
        return value
    return value


def _columns(value: Any, where: str) -> tuple[ColumnConfig, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where} must be a non-empty list of {{id, title, wip}} tables")
    columns = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            item = {"id": item}
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise ConfigError(f"{where}[{i}] needs an id")
        extra = set(item) - {"id", "title", "wip"}
        if extra:
            raise ConfigError(f"{where}[{i}]: unknown key(s) {', '.join(sorted(extra))}")
        wip = item.get("wip")
        if wip is not None and (isinstance(wip, bool) or not isinstance(wip, int) or wip < 1):
            raise ConfigError(f"{where}[{i}].wip must be a positive integer")
        title = item.get("title") or item["id"].replace("-", " ").title()
        columns.append(ColumnConfig(item["id"], str(title), wip))
    return tuple(columns)


def _check_board(board: BoardSettings) -> None:
    ids = [c.id for c in board.columns]
    if len(set(ids)) != len(ids):
        raise ConfigError("board.columns has duplicate ids")
    for key in ("agent_column", "review_column", "done_column"):
        if getattr(board, key) not in ids:
            raise ConfigError(
                f"board.{key} = {getattr(board, key)!r} is not a column id ({', '.join(ids)})"
            )


def _parse_env(value: str, type_name: Any) -> Any:
    t = str(type_name)
    try:
        if t == "bool":
            lowered = value.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(value)
        if t.startswith("int"):
            return int(value)
        if t.startswith("float"):
            return float(value)
    except ValueError:
        raise ConfigError(f"environment value {value!r} is not a valid {t}") from None
    if t.startswith("tuple[str"):
        return [v for v in (part.strip() for part in value.split(",")) if v]
    return value

"""One typed Settings object: the board's ``kanban.toml``, then ``KANBAN_AGENTS_*`` overrides.

Every key is a declared, documented field below (``Annotated[type, Meta(description=...)]``) with
a default, so a board directory without ``kanban.toml`` works. msgspec checks each table against
these declarations (types, allowed values, lower bounds); this module only adds what a TOML file
cannot say by itself: a string where a list is expected, column titles derived from ids, and the
environment overrides. Errors are one line naming the key and where it came from.

The README's configuration reference is the user-facing copy of this file; a test keeps them in
step.
"""

from __future__ import annotations

import functools
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

if TYPE_CHECKING:
    from msgspec import Meta


CONFIG_FILE = "kanban.toml"
ENV_PREFIX = "KANBAN_AGENTS_"
# The user's own settings, for every board: what is personal (the theme the app remembers).
USER_CONFIG_FILE = Path("kanban-agents") / "config.toml"
USER_SECTIONS = ("ui",)


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


class ConfigError(Exception):
    """kanban.toml or an environment override is not usable; the message says what to fix."""


class _EnvironmentError(ConfigError):
    """An override's text is not a value at all; the message names the variable, not the file."""


def _doc(text: str, **constraints: Any) -> Meta:
    # Annotations are strings until a table is checked (``from __future__ import annotations``),
    # so msgspec, ~20 ms to import, is only loaded for a board that has settings to check.
    from msgspec import Meta

    return Meta(description=text, **constraints)


@dataclass(frozen=True)
class ColumnConfig:
    id: Annotated[str, _doc("the column's id, the card's `status:`", min_length=1)]
    title: Annotated[str, _doc("shown in the column header; default: the id in title case")] = ""
    wip: Annotated[int, _doc("work-in-progress limit", ge=1)] | None = None


@dataclass(frozen=True)
class AgentProfile:
    """How one agent is run: the built-in loop over an OpenAI-compatible API, or a command."""

    name: Annotated[str, _doc("the profile's name, the card's `agent:`")]
    kind: Annotated[
        Literal["openai", "command", "demo"],
        _doc(
            "`openai` (built-in agent), `command` (set automatically with `command`) or `demo` "
            "(the built-in agent on the scripted demo model, which kanban-agents starts itself)"
        ),
    ] = "openai"
    # built-in agent
    model: (
        Annotated[str, _doc("model name; unset: $OPENAI_MODEL, then the server's first")] | None
    ) = None
    base_url: Annotated[str, _doc("API base URL; unset: $OPENAI_BASE_URL, then OpenAI")] | None = (
        None
    )
    api_key_env: Annotated[str, _doc("the environment variable holding the key")] = "OPENAI_API_KEY"
    max_steps: Annotated[int, _doc("model turns before the run fails")] = 60
    max_wall_seconds: Annotated[float, _doc("wall-clock limit of a run")] = 1800.0
    max_tokens: Annotated[int, _doc("token limit of a run")] = 400_000
    temperature: Annotated[float, _doc("sampling temperature")] | None = None
    max_cost: (
        Annotated[float, _doc("dollars a run may cost ([pricing] of its model)", ge=0)] | None
    ) = None
    context_tokens: (
        Annotated[int, _doc("the conversation is kept under this many tokens", ge=1000)] | None
    ) = None
    request_timeout: Annotated[
        float, _doc("the longest wait for the server's first (or next) byte")
    ] = 60.0
    retry_budget: Annotated[
        float, _doc("seconds a model request may keep failing before the run fails")
    ] = 150.0
    retry_after_cap: Annotated[
        float, _doc("the longest wait a server's Retry-After can ask for")
    ] = 60.0
    # command agent
    command: Annotated[
        tuple[str, ...],
        _doc("argv template: {prompt} {prompt_file} {worktree} {card_id} {files} are filled in"),
    ] = ()
    env: Annotated[dict[str, str], _doc("environment variables set for the agent command")] = field(
        default_factory=dict
    )
    side_files: Annotated[
        tuple[str, ...],
        _doc("the agent's own files (gitignore patterns), kept out of commits and diffs"),
    ] = ()
    description: Annotated[str, _doc("a note about the profile, for whoever reads kanban.toml")] = (
        ""
    )
    sandbox: Annotated[
        bool, _doc("a command agent runs inside the [sandbox] (when one is in use)")
    ] = True
    sandbox_paths: Annotated[
        tuple[str, ...],
        _doc("paths (globs, ~) a command agent may write inside the sandbox: its config dirs"),
    ] = ()
    sandbox_network: (
        Annotated[
            Literal["on", "off"], _doc("this profile's [sandbox] network; unset: the board's")
        ]
        | None
    ) = None


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
        sandbox_paths=("~/.codex",),
    ),
    AgentProfile(
        name="claude",
        kind="command",
        command=("claude", "-p", "{prompt}", "--permission-mode", "acceptEdits"),
        description="Claude Code in print mode, allowed to edit files",
        # No auto-update, telemetry, error reporting or other traffic but the model's.
        env={"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"},
        api_key_env="ANTHROPIC_API_KEY",  # the one credential its process gets
        sandbox_paths=("~/.claude", "~/.claude.json"),
    ),
    AgentProfile(
        name="aider",
        kind="command",
        # Every question aider could ask is settled by a flag, so --yes-always only ever answers
        # questions about this worktree (create a file the card names), never one that changes the
        # user's own settings (the analytics opt-in, .gitignore) or reaches the internet.
        command=(
            "aider",
            "--yes-always",
            "--no-auto-commits",
            "--no-dirty-commits",
            "--no-gitignore",
            "--no-analytics",
            "--no-check-update",
            "--no-show-release-notes",
            "--no-show-model-warnings",
            "--no-detect-urls",
            "--no-pretty",
            "--no-fancy-input",
            "--message-file",
            "{prompt_file}",
            "{files}",
        ),
        env={
            "AIDER_CHECK_UPDATE": "false",
            "AIDER_ANALYTICS": "false",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        },
        side_files=(".aider*",),
        description="aider with the card as its message and its files, no commits of its own",
        sandbox_paths=("~/.aider*",),
    ),
)


@dataclass(frozen=True)
class BoardSettings:
    columns: Annotated[
        tuple[ColumnConfig, ...],
        _doc("columns in order: { id, title, wip } (a string is an id)", min_length=1),
    ] = DEFAULT_COLUMNS
    agent_column: Annotated[str, _doc("a card entering it starts an agent")] = "in-progress"
    review_column: Annotated[str, _doc("where a card goes when its tests pass")] = "review"
    done_column: Annotated[str, _doc("where merged cards go; satisfies depends_on")] = "done"
    archive_dir: Annotated[str, _doc("where Archive moves card files")] = ".archive"
    auto_commit: Annotated[
        bool, _doc("commit the card-file changes kanban-agents makes (only those files)")
    ] = False


@dataclass(frozen=True)
class WorktreeSettings:
    root: Annotated[str, _doc("where worktrees go; empty: <repo>/../<repo-name>-worktrees")] = ""
    branch_prefix: Annotated[str, _doc("branch name is prefix + card id")] = "kanban/"
    base_branch: Annotated[
        str, _doc("base of new branches and target of merges; empty: the checked-out branch")
    ] = ""
    copy_files: Annotated[
        tuple[str, ...], _doc("globs copied from the repository into new worktrees")
    ] = ()
    setup: Annotated[tuple[str, ...], _doc("shell commands run in new worktrees")] = ()
    setup_timeout: Annotated[float, _doc("seconds per setup command")] = 600.0
    submodules: Annotated[bool, _doc("initialise submodules in new worktrees")] = True
    warn_gb: Annotated[
        float, _doc("the top bar shows the worktrees' disk use when above this (GB)", ge=0)
    ] = 5.0
    stale_days: Annotated[
        float, _doc("a worktree untouched this long is listed as stale", ge=0)
    ] = 7.0
    port_base: Annotated[int, _doc("KANBAN_PORT = port_base + slot * port_stride", ge=1)] = 4000
    port_stride: Annotated[int, _doc("ports between two slots' KANBAN_PORT", ge=1)] = 10
    pool: Annotated[int, _doc("spare worktrees of the base branch kept ready", ge=0)] = 0


@dataclass(frozen=True)
class RunSettings:
    concurrency: Annotated[int, _doc("agents running at once; the rest are queued", ge=1)] = 3
    hold_on_overlap: Annotated[bool, _doc("a card whose files overlap a running card's waits")] = (
        False
    )
    test_attempts: Annotated[int, _doc("finishes with failing tests before the run fails")] = 3
    test_timeout: Annotated[float, _doc("seconds for the card's tests")] = 600.0
    command_timeout: Annotated[float, _doc("default timeout of the agent's run tool")] = 120.0
    output_cap: Annotated[int, _doc("characters of command output kept (head and tail)")] = 30_000
    idle_seconds: Annotated[
        float, _doc("a command agent silent this long at a prompt-like line is blocked", gt=0)
    ] = 120.0


# Lock files, minified bundles and snapshots: nobody reviews them line by line.
DEFAULT_COLLAPSE = (
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb",
    "poetry.lock", "Pipfile.lock", "uv.lock", "pdm.lock", "Cargo.lock", "Gemfile.lock",
    "composer.lock", "go.sum", "flake.lock", "mix.lock", "Podfile.lock", "pubspec.lock",
    "*.min.js", "*.min.css", "*.map",
    "__snapshots__/**", "*.snap",
)  # fmt: skip


@dataclass(frozen=True)
class ReviewSettings:
    merge_strategy: Annotated[
        Literal["merge", "squash", "rebase"], _doc("how an approved branch lands on the base")
    ] = "merge"
    delete_branch: Annotated[bool, _doc("delete the card's branch after a merge")] = True
    remove_worktree: Annotated[bool, _doc("remove the card's worktree after a merge")] = True
    run_hooks: Annotated[
        bool,
        _doc(
            "run your git hooks (post-merge ...) when a merge moves the base; kanban-agents' "
            "other git commands never run hooks"
        ),
    ] = False
    rebase_before_review: Annotated[
        bool,
        _doc(
            "a run whose tests pass is rebased onto its base's current tip (when conflict-free) "
            "and tested again before it enters review"
        ),
    ] = False
    remote: Annotated[
        str, _doc("the git remote P and 'kanban-agents pr' push a card's branch to")
    ] = "origin"
    collapse: Annotated[
        tuple[str, ...],
        _doc(
            "globs of files the Diff tab folds (counts only, enter unfolds): a name ('*.lock') "
            "or a path ('__snapshots__/**'); besides, .gitattributes linguist-generated / -diff"
        ),
    ] = DEFAULT_COLLAPSE
    fold_lines: Annotated[
        int, _doc("the Diff tab folds a file with more changed lines than this", ge=1)
    ] = 1500


@dataclass(frozen=True)
class SandboxSettings:
    mode: Annotated[
        Literal["auto", "bwrap", "off"],
        _doc("auto: bwrap when a start-up probe works, else off; bwrap: fail runs without it"),
    ] = "auto"
    network: Annotated[
        Literal["on", "off"], _doc("off: agent commands get no network (their own namespace)")
    ] = "on"
    read_write: Annotated[
        tuple[str, ...], _doc("extra paths (~ allowed) commands may write, e.g. ~/.cache/pip")
    ] = ()
    read_only: Annotated[tuple[str, ...], _doc("paths under $HOME commands may read")] = ()
    hide: Annotated[tuple[str, ...], _doc("paths commands see empty")] = ()
    max_memory_mb: Annotated[int, _doc("address-space limit per command; 0: none", ge=0)] = 0
    max_processes: Annotated[int, _doc("process limit per command; 0: none", ge=0)] = 0


@dataclass(frozen=True)
class UISettings:
    theme: Annotated[str, _doc("any Textual theme")] = "textual-dark"
    log_max_lines: Annotated[int, _doc("scrollback of the Log and Tests tabs")] = 50_000
    editor: Annotated[str, _doc("editor for e and o; empty: $VISUAL, $EDITOR, vi")] = ""
    desktop_notifications: Annotated[
        bool, _doc("review, failed, blocked: a desktop notification (OSC 777/9, notify-send)")
    ] = False


@dataclass(frozen=True)
class HookSettings:
    on_review: Annotated[str, _doc("shell command run when a card reaches review")] = ""
    on_failed: Annotated[str, _doc("shell command run when a run fails")] = ""
    on_blocked: Annotated[str, _doc("shell command run when an agent seems blocked")] = ""
    on_merged: Annotated[str, _doc("shell command run when a card is merged")] = ""
    timeout: Annotated[float, _doc("seconds a hook may run before it is stopped", gt=0)] = 30.0


@dataclass(frozen=True)
class ModelPrice:
    """Dollars per million tokens of one model."""

    input: Annotated[float, _doc("dollars per million prompt tokens", ge=0)]
    output: Annotated[float, _doc("dollars per million completion tokens", ge=0)]
    cached_input: (
        Annotated[float, _doc("dollars per million cached prompt tokens; unset: input", ge=0)]
        | None
    ) = None


@dataclass(frozen=True)
class MCPSettings:
    allow_start: Annotated[
        bool,
        _doc(
            "`kanban-agents mcp` run inside an agent's worktree may move cards into the agent column"
        ),
    ] = False


@dataclass(frozen=True)
class Settings:
    board: BoardSettings = field(default_factory=BoardSettings)
    worktrees: WorktreeSettings = field(default_factory=WorktreeSettings)
    runs: RunSettings = field(default_factory=RunSettings)
    review: ReviewSettings = field(default_factory=ReviewSettings)
    sandbox: SandboxSettings = field(default_factory=SandboxSettings)
    ui: UISettings = field(default_factory=UISettings)
    mcp: MCPSettings = field(default_factory=MCPSettings)
    hooks: HookSettings = field(default_factory=HookSettings)
    default_agent: str = "builtin"
    agents: dict[str, AgentProfile] = field(default_factory=dict)
    pricing: dict[str, ModelPrice] = field(default_factory=dict)  # model name -> price

    @property
    def column_ids(self) -> list[str]:
        return [c.id for c in self.board.columns]

    def column(self, column_id: str) -> ColumnConfig | None:
        return next((c for c in self.board.columns if c.id == column_id), None)

    @property
    def first_column(self) -> str:
        return self.board.columns[0].id

    @property
    def uses_demo_model(self) -> bool:
        """A profile runs on the scripted demo model (a board made by ``kanban-agents demo``)."""
        return any(profile.kind == "demo" for profile in self.agents.values())

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
    "sandbox": SandboxSettings,
    "ui": UISettings,
    "mcp": MCPSettings,
    "hooks": HookSettings,
}


def load_settings(board_dir: Path, environ: dict[str, str] | None = None) -> Settings:
    """Read ``board_dir/kanban.toml`` (if any), then apply ``KANBAN_AGENTS_*`` overrides."""
    environ = os.environ if environ is None else environ
    path = board_dir / CONFIG_FILE
    raw = _read_toml(path)
    user = _user_defaults(user_config_path(environ))
    for name, table in user.items():  # the user's choices, under what the board says
        board_table = raw.get(name, {})
        if isinstance(board_table, dict):
            raw[name] = {**table, **board_table}
    try:
        return _build(raw, environ)
    except _EnvironmentError:
        raise
    except ConfigError as exc:
        raise ConfigError(f"{path.name}: {exc}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None


def user_config_path(environ: typing.Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/kanban-agents/config.toml`` (default ``~/.config``)."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME") or str(
        Path(environ.get("HOME") or Path.home()) / ".config"
    )
    return Path(base) / USER_CONFIG_FILE


def _user_defaults(path: Path) -> dict[str, dict[str, Any]]:
    """The user's file, checked on its own so a mistake there names that file."""
    raw = _read_toml(path)
    other = set(raw) - set(USER_SECTIONS)
    if other:
        raise ConfigError(
            f"{path}: only [{'], ['.join(USER_SECTIONS)}] belong here; "
            f"[{'], ['.join(sorted(other))}] go in a board's {CONFIG_FILE}"
        )
    for name, table in raw.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{name}] must be a table")
        try:
            _convert(SECTIONS[name], table, name)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    return raw


def remember_user_setting(
    section: str, key: str, value: str, environ: typing.Mapping[str, str] | None = None
) -> Path:
    """Write ``section.key = value`` into the user's config file, keeping the rest of it (its
    other lines and comments): the app remembers a choice (the theme) this way."""
    import json

    path = user_config_path(environ)
    line = f"{key} = {json.dumps(value, ensure_ascii=False)}"  # a TOML basic string
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    header = next((i for i, text in enumerate(lines) if text.strip() == f"[{section}]"), None)
    if header is None:
        lines += ([""] if lines else []) + [f"[{section}]", line]
    else:
        end = next(
            (i for i in range(header + 1, len(lines)) if lines[i].lstrip().startswith("[")),
            len(lines),
        )
        at = next(
            (i for i in range(header + 1, end) if lines[i].split("=", 1)[0].strip() == key),
            None,
        )
        if at is None:
            lines.insert(header + 1, line)
        else:
            lines[at] = line
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    scratch.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(scratch, path)  # never a half-written file
    return path


def _build(raw: dict[str, Any], environ: typing.Mapping[str, str]) -> Settings:
    unknown = set(raw) - set(SECTIONS) - {"agents", "pricing"}
    if unknown:
        raise ConfigError(f"unknown section(s): {', '.join(sorted(unknown))}")
    sections = {}
    for name, cls in SECTIONS.items():
        table = raw.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"[{name}] must be a table")
        table = dict(table)
        labels = {}  # key -> the environment variable its value came from
        for key in (f.name for f in fields(cls) if f.name != "columns"):
            variable = f"{ENV_PREFIX}{name.upper()}_{key.upper()}"
            if variable in environ:
                table[key] = _from_environment(variable, environ[variable], _hints(cls)[key])
                labels[key] = variable
        if "columns" in table:
            table["columns"] = _column_tables(table["columns"], f"{name}.columns")
        sections[name] = _convert(cls, table, name, labels)
    _check_board(sections["board"])

    agents_raw = raw.get("agents", {})
    if not isinstance(agents_raw, dict):
        raise ConfigError("[agents] must be a table")
    agents_raw = dict(agents_raw)
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
    pricing = _pricing(raw.get("pricing", {}))
    return Settings(default_agent=default_agent, agents=agents, pricing=pricing, **sections)


def _pricing(table: Any) -> dict[str, ModelPrice]:
    if not isinstance(table, dict):
        raise ConfigError('[pricing] must be a table of models: [pricing."gpt-4o-mini"]')
    prices = {}
    for model, price in table.items():
        if not isinstance(price, dict) or not price:
            raise ConfigError(f'[pricing."{model}"] must be a table: input = ..., output = ...')
        prices[model] = _convert(ModelPrice, dict(price), f'pricing."{model}"')
    return prices


def _make_profile(base: AgentProfile, table: dict[str, Any]) -> AgentProfile:
    where = f"agents.{base.name}"
    if "name" in table:
        raise ConfigError(f"unknown key {where}.name")
    checked = _convert(AgentProfile, {**table, "name": base.name}, where)
    profile = replace(base, **{key: getattr(checked, key) for key in table})
    if "command" in table and "kind" not in table:
        profile = replace(profile, kind="command")
    if profile.kind == "command" and not profile.command:
        raise ConfigError(f"{where}: a command agent needs command = [...]")
    return profile


# --- checking tables against the declarations ---------------------------------------------


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The declared type of each field, with its ``Meta`` (docs and constraints)."""
    return typing.get_type_hints(cls, include_extras=True)


def _bare(hint: Any) -> Any:
    """``int`` for ``Annotated[int, Meta(...)] | None``: the type a value must have."""
    if typing.get_origin(hint) is Annotated:
        hint = typing.get_args(hint)[0]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        kinds = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(kinds) == 1:
            return _bare(kinds[0])
    return hint


def _is_string_list(hint: Any) -> bool:
    bare = _bare(hint)
    return typing.get_origin(bare) is tuple and typing.get_args(bare) == (str, ...)


def _convert(cls: type, table: dict[str, Any], where: str, labels: dict[str, str] | None = None):
    """``table`` as a ``cls``, checked by msgspec; a ConfigError naming the first bad key."""
    if not table:
        return cls()  # the declared defaults
    import msgspec

    hints = _hints(cls)
    for key in table:
        if key not in hints:
            raise ConfigError(f"unknown key {where}.{key}")
    # A single string where a list of strings is expected: `setup = "make"` means ["make"].
    table = {
        key: [value] if isinstance(value, str) and _is_string_list(hints[key]) else value
        for key, value in table.items()
    }
    try:
        return msgspec.convert(table, cls)
    except msgspec.ValidationError as exc:
        for key, value in table.items():
            try:
                msgspec.convert(value, hints[key])
            except msgspec.ValidationError:
                variable = (labels or {}).get(key)
                error = _EnvironmentError if variable else ConfigError
                label = variable or f"{where}.{key}"
                raise error(f"{label} must be {_expected(hints[key], value)}") from None
        raise ConfigError(f"{where}: {exc}") from None


def _expected(hint: Any, value: Any) -> str:
    """What a value of the declared type looks like, in words ("an integer", "at least 1")."""
    from msgspec import inspect  # ~0.1 s to import: only on the way to an error message

    bare = _bare(hint)
    if typing.get_origin(bare) is Literal:  # in the declared order (inspect sorts them)
        return "one of " + ", ".join(str(v) for v in typing.get_args(bare))

    def words(info: Any) -> str:
        if isinstance(info, inspect.Metadata):  # Meta's description; its bounds are in .type
            return words(info.type)
        if isinstance(info, inspect.UnionType):
            kinds = [t for t in info.types if not isinstance(t, inspect.NoneType)]
            if len(kinds) == 1:
                return words(kinds[0])
        if isinstance(info, inspect.BoolType):
            return "true or false"
        if isinstance(info, inspect.IntType):
            if info.ge is not None and isinstance(value, int) and not isinstance(value, bool):
                return f"at least {info.ge}"
            return "an integer"
        if isinstance(info, inspect.FloatType):
            return "a number"
        if isinstance(info, inspect.StrType):
            if info.min_length and isinstance(value, str):
                return "a non-empty string"
            return "a string"
        if isinstance(info, inspect.VarTupleType | inspect.ListType) and isinstance(
            info.item_type, inspect.StrType
        ):
            return "a list of strings"
        return f"a {type(info).__name__.removesuffix('Type').lower()}"

    return words(inspect.type_info(hint))


def _from_environment(variable: str, text: str, hint: Any) -> Any:
    """An override's text as the declared type's value; the value itself is checked later."""
    bare = _bare(hint)
    if _is_string_list(hint):
        return [v for v in (part.strip() for part in text.split(",")) if v]
    if bare is bool:
        lowered = text.strip().lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise _EnvironmentError(f"{variable}={text!r} is not a valid boolean (true or false)")
    if bare in (int, float):
        import msgspec

        try:
            return msgspec.convert(text.strip(), bare, strict=False)
        except msgspec.ValidationError:
            noun = "integer" if bare is int else "number"
            raise _EnvironmentError(f"{variable}={text!r} is not a valid {noun}") from None
    return text


def _column_tables(value: Any, where: str) -> Any:
    """Column entries as tables with a title: a string is an id, the title follows from the id."""
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where} must be a non-empty list of {{id, title, wip}} tables")
    tables = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            item = {"id": item}
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise ConfigError(f"{where}[{i}] needs an id")
        _convert(ColumnConfig, item, f"{where}[{i}]")  # names the bad key of this column
        tables.append({**item, "title": item.get("title") or item["id"].replace("-", " ").title()})
    return tables


def _check_board(board: BoardSettings) -> None:
    ids = [c.id for c in board.columns]
    if len(set(ids)) != len(ids):
        raise ConfigError("board.columns has duplicate ids")
    for key in ("agent_column", "review_column", "done_column"):
        if getattr(board, key) not in ids:
            raise ConfigError(
                f"board.{key} = {getattr(board, key)!r} is not a column id ({', '.join(ids)})"
            )

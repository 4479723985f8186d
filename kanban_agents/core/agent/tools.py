"""The tools the built-in agent uses inside its worktree, with every file path jailed to it.

The tool and parameter names are a contract with the model: ``list_files``, ``read_file``,
``write_file``, ``edit_file``, ``search``, ``run`` and ``finish``. ``Toolbox.call`` turns every
model mistake (an unknown tool, bad arguments, a path outside the worktree, a missing file) into a
``ToolResult`` with ``is_error=True`` whose text tells the model what to do instead. It raises
only for bugs and for cancellation.

The jail stops the file tools from reaching outside the worktree by mistake, through ``..``,
absolute paths or symlinks, and keeps them out of ``.git``. It is not a sandbox: ``run`` executes
any shell command in the worktree, through the ``runtime`` it is given (the sandbox of
``core/sandbox.py`` confines it to the worktree; without one it runs with the user's rights). What ``run`` does promise is that the variables named in
``scrub_env`` (the API keys) never reach the command, and that when the call returns (finished,
timed out or cancelled) nothing is left running in the command's process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import difflib
import json
import math
import os
import re
import stat
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..process import run_command
from ..safe_write import write_atomic

TOOL_NAMES = ("list_files", "read_file", "write_file", "edit_file", "search", "run", "finish")

LIST_CAP = 500
SEARCH_MATCH_CAP = 200
SEARCH_LINE_CHARS = 200
SEARCH_MAX_FILE_BYTES = 1_000_000
READ_LINE_CHARS = 2_000
MAX_TEXT_FILE_BYTES = 50_000_000  # read_file and edit_file load the whole file
TIMEOUT_CAP_FACTOR = 10
GIT_TIMEOUT = 30.0
# Limits on what the model may send. Past them a tool answers with an error saying what to do
# instead, so that no argument makes the tools themselves fail (a path 1,500 directories deep
# used to end the run with a RecursionError from mkdir).
MAX_PATH_CHARS = 1024
MAX_PATH_DEPTH = 100  # directories in a path, far more than any real project uses
MAX_NAME_BYTES = 255  # one file or directory name, as Linux and macOS allow
MAX_ARGUMENTS_CHARS = 5_000_000  # all of one call's arguments together
MAX_COMMAND_BYTES = 100_000  # Linux refuses a single argument (sh -c COMMAND) over 128 KiB
MAX_PATTERN_CHARS = 10_000
# Set by a git hook or a parent git command, these would point our git at another repository.
GIT_LOCATION_VARS = frozenset({"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR"})


class ToolError(Exception):
    """A problem to report back to the model as the tool's result; the message says what to do."""


@dataclass(frozen=True)
class ToolResult:
    output: str  # what goes back to the model as the tool message
    is_error: bool = False
    summary: str = ""  # one short line for a human log, e.g. "wrote src/a.py (12 lines)"


# --- schemas ------------------------------------------------------------------------------------

_PATH_IN_WORKTREE = "relative to the worktree root (the current directory of `run`)"


def _function(name: str, description: str, properties: dict, required: tuple[str, ...]) -> dict:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": list(required),
                "additionalProperties": False,
            },
        },
    }


_SCHEMAS = (
    _function(
        "list_files",
        "List the files and directories under a directory of the worktree, recursively. "
        "Directories end with '/'. Paths are relative to the worktree root, ready to pass to "
        "read_file. Files ignored by .gitignore and the .git directory are left out. A long "
        f"listing stops after {LIST_CAP} entries; list a subdirectory to see the rest.",
        {
            "path": {
                "type": "string",
                "description": f"Directory to list, {_PATH_IN_WORKTREE}. Default '.', the whole "
                "worktree.",
            }
        },
        (),
    ),
    _function(
        "read_file",
        "Read a text file of the worktree. Each line comes back prefixed with its line number, "
        "as in '   12| text'; the prefix is not part of the file. A long file comes back one "
        "page at a time and the result says which offset reads the next page.",
        {
            "path": {"type": "string", "description": f"File to read, {_PATH_IN_WORKTREE}."},
            "offset": {
                "type": "integer",
                "minimum": 1,
                "description": "Line number to start at, counting from 1. Default 1.",
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "description": "Largest number of lines to return. Default: a full page.",
            },
        },
        ("path",),
    ),
    _function(
        "write_file",
        "Create a file, or replace the whole content of an existing one. Missing parent "
        "directories are created. To change part of an existing file, use edit_file instead.",
        {
            "path": {"type": "string", "description": f"File to write, {_PATH_IN_WORKTREE}."},
            "content": {"type": "string", "description": "The complete new content of the file."},
        },
        ("path", "content"),
    ),
    _function(
        "edit_file",
        "Replace one piece of text in an existing file. `old` must occur in the file exactly "
        "once, character for character, including indentation and line breaks: copy it from "
        "read_file output without the line-number prefixes, with enough surrounding lines to "
        "make it unique. Returns the changed region with line numbers.",
        {
            "path": {"type": "string", "description": f"File to edit, {_PATH_IN_WORKTREE}."},
            "old": {
                "type": "string",
                "description": "The exact text to replace; it must occur exactly once.",
            },
            "new": {
                "type": "string",
                "description": "The text to put in its place; empty to delete `old`.",
            },
        },
        ("path", "old", "new"),
    ),
    _function(
        "search",
        "Search the text files of the worktree line by line for a regular expression. Each "
        "match comes back as 'file:line: text'. Skips .git, files ignored by .gitignore, binary "
        f"files and files over 1 MB, and stops after {SEARCH_MATCH_CAP} matches.",
        {
            "pattern": {
                "type": "string",
                "description": "A Python regular expression (the `re` module's syntax), matched "
                "against each line. Escape special characters such as ( [ . * + ? with a "
                "backslash to match them literally.",
            },
            "path": {
                "type": "string",
                "description": f"File or directory to search, {_PATH_IN_WORKTREE}. Default '.'.",
            },
        },
        ("pattern",),
    ),
    _function(
        "run",
        "Run a shell command (sh) in the worktree root and return its exit code and its "
        "combined stdout and stderr. Use it for tests, linters, builds and git. The command "
        "gets no input, so it must not prompt. Long output keeps its beginning and its end. "
        "Processes the command leaves in the background are stopped when it ends, and a "
        "command that outlives its timeout is killed with all its child processes.",
        {
            "command": {
                "type": "string",
                "description": "The shell command line, e.g. 'python -m pytest -q tests/test_app.py'.",
            },
            "timeout": {
                "type": "number",
                "exclusiveMinimum": 0,
                "description": "Seconds before the command is killed. The default suits tests "
                f"and builds; the largest allowed is {TIMEOUT_CAP_FACTOR} times the default.",
            },
        },
        ("command",),
    ),
    _function(
        "finish",
        "End your work on the task, once it is done or cannot be done. No tool runs after this.",
        {
            "summary": {
                "type": "string",
                "description": "A few sentences for the reviewer: what you changed, how you "
                "checked it (which tests ran), and anything left open.",
            }
        },
        ("summary",),
    ),
)
_SCHEMA_BY_NAME = {schema["function"]["name"]: schema["function"] for schema in _SCHEMAS}
assert tuple(_SCHEMA_BY_NAME) == TOOL_NAMES

_EXAMPLES = {
    "list_files": '{"path": "src"}',
    "read_file": '{"path": "src/app.py", "offset": 1, "limit": 200}',
    "write_file": '{"path": "src/app.py", "content": "print(1)\\n"}',
    "edit_file": '{"path": "src/app.py", "old": "x = 1\\n", "new": "x = 2\\n"}',
    "search": '{"pattern": "def main", "path": "src"}',
    "run": '{"command": "python -m pytest -q", "timeout": 300}',
    "finish": '{"summary": "Added the --json flag and a test; the suite passes."}',
}


def tool_schemas() -> list[dict]:
    """All seven tools in the OpenAI ``tools`` format; a fresh copy the caller may change."""
    return copy.deepcopy(list(_SCHEMAS))


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _check_value(tool: str, key: str, spec: dict, value: object) -> object:
    kind = spec["type"]
    if kind == "string":
        if not isinstance(value, str):
            raise ToolError(f"argument '{key}' of {tool} must be a string, not {_json_type(value)}")
        return value
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        value = int(value)
    wanted = int if kind == "integer" else int | float
    if isinstance(value, bool) or not isinstance(value, wanted) or not math.isfinite(value):
        noun = "a whole number" if kind == "integer" else "a number"
        raise ToolError(f"argument '{key}' of {tool} must be {noun}, not {_json_type(value)}")
    if "minimum" in spec and value < spec["minimum"]:
        raise ToolError(f"argument '{key}' of {tool} must be at least {spec['minimum']}")
    if "exclusiveMinimum" in spec and value <= spec["exclusiveMinimum"]:
        raise ToolError(f"argument '{key}' of {tool} must be more than {spec['exclusiveMinimum']}")
    return value


def _parse_arguments(tool: str, arguments: object) -> dict[str, Any]:
    """The arguments checked against the tool's schema; a null value counts as left out."""
    example = _EXAMPLES[tool]
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        arguments = {}
    if isinstance(arguments, str):
        _check_arguments_size(tool, len(arguments))
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as exc:
            raise ToolError(
                f"the arguments of {tool} are not valid JSON ({exc.msg} at character {exc.pos}); "
                f"send one JSON object, e.g. {example}"
            ) from None
        except RecursionError:
            # json's decoder checks its depth and raises cleanly; no argument is nested at all.
            raise ToolError(
                f"the arguments of {tool} nest arrays or objects too deeply; every argument is "
                f"a plain string or number: send one flat JSON object, e.g. {example}"
            ) from None
        except ValueError as exc:  # e.g. an integer of more than 4,300 digits
            raise ToolError(
                f"the arguments of {tool} are not usable JSON ({_one_line(str(exc), 100)}); "
                f"send one JSON object, e.g. {example}"
            ) from None
    if not isinstance(arguments, dict):
        raise ToolError(
            f"the arguments of {tool} must be a JSON object, not {_json_type(arguments)}; "
            f"e.g. {example}"
        )
    parameters = _SCHEMA_BY_NAME[tool]["parameters"]
    properties = parameters["properties"]
    accepted = ", ".join(properties) or "no arguments"
    unknown = [key for key in arguments if key not in properties]
    if unknown:
        names = ", ".join(repr(key) for key in unknown)
        raise ToolError(f"{tool} has no argument {names}; it accepts: {accepted}. E.g. {example}")
    values = {}
    for key, spec in properties.items():
        value = arguments.get(key)
        if value is None:
            if key in parameters["required"]:
                raise ToolError(f"{tool} needs the argument '{key}'; e.g. {example}")
            continue
        values[key] = _check_value(tool, key, spec, value)
    _check_arguments_size(tool, sum(len(v) for v in values.values() if isinstance(v, str)))
    return values


def _check_arguments_size(tool: str, size: int) -> None:
    if size > MAX_ARGUMENTS_CHARS:
        advice = (
            "generate large files with a script through `run`, or write them in smaller parts"
            if tool in ("write_file", "edit_file")
            else "send less"
        )
        raise ToolError(
            f"the arguments of {tool} are {size:,} characters long; the most one call takes is "
            f"{MAX_ARGUMENTS_CHARS:,}: {advice}"
        )


# --- small helpers ------------------------------------------------------------------------------


def _one_line(text: str, limit: int = 80) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _count_lines(text: str) -> int:
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


def _plural(count: int, noun: str, nouns: str = "") -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"


def _split_lines(text: str) -> list[str]:
    """Lines as editors and grep number them: split on "\\n" only, a final newline ends the last."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _numbered(lines: Iterable[tuple[int, str]], width: int) -> list[str]:
    rendered = []
    for number, line in lines:
        if len(line) > READ_LINE_CHARS:
            extra = len(line) - READ_LINE_CHARS
            line = f"{line[:READ_LINE_CHARS]} [... {extra} more characters on this line]"
        rendered.append(f"{number:>{width}}| {line}")
    return rendered


def _is_git_part(part: str) -> bool:
    return part.lower() == ".git"  # .GIT is the same directory on a case-insensitive disk


# --- the toolbox --------------------------------------------------------------------------------

Entries = dict[tuple[str, ...], bool]  # path parts relative to the worktree root -> is a directory


class Toolbox:
    """The seven tools, bound to one worktree."""

    def __init__(
        self,
        worktree: Path,
        *,
        command_timeout: float = 120.0,
        output_cap: int = 30_000,
        scrub_env: Iterable[str] = ("OPENAI_API_KEY",),
        max_read_lines: int = 2000,
        env: dict[str, str] | None = None,
        runtime: Any = None,
    ):
        if command_timeout <= 0 or output_cap <= 0 or max_read_lines <= 0:
            raise ValueError("command_timeout, output_cap and max_read_lines must be positive")
        self.worktree = Path(worktree)
        self.root = self.worktree.resolve()
        self.command_timeout = float(command_timeout)
        self.output_cap = output_cap
        self.scrub_env = frozenset([scrub_env] if isinstance(scrub_env, str) else scrub_env)
        self.max_read_lines = max_read_lines
        self.env = env  # the base environment for `run` (default: this process's)
        # How `run` starts commands: a workspace ``Runtime`` (the sandbox); None: unconfined.
        self.runtime = runtime
        self._git_root_confirmed = False
        self._handlers: dict[str, Callable[..., Awaitable[ToolResult]]] = {
            "list_files": self._list_files,
            "read_file": self._read_file,
            "write_file": self._write_file,
            "edit_file": self._edit_file,
            "search": self._search,
            "run": self._run,
            "finish": self._finish,
        }

    async def call(self, name: str, arguments: dict | str) -> ToolResult:
        """Run one tool call from the model; its mistakes come back as error results."""
        if not isinstance(name, str) or name not in self._handlers:
            return ToolResult(
                output=f"Error: there is no tool {name!r}. The tools are: {', '.join(TOOL_NAMES)}.",
                is_error=True,
                summary=f"unknown tool {_one_line(str(name), 40)!r}",
            )
        try:
            values = _parse_arguments(name, arguments)
            return await self._handlers[name](**values)
        except ToolError as exc:
            message = str(exc)
        except (OSError, UnicodeError) as exc:
            message = f"{name} failed: {exc}"
        return ToolResult(
            output=f"Error: {message}",
            is_error=True,
            summary=f"{name} failed: {_one_line(message, 100)}",
        )

    # --- the jail -------------------------------------------------------------------------------

    def resolve(self, path: str) -> Path:
        """The real location of a worktree-relative path, or ToolError if it leaves the jail."""
        return self._locate(path)[0]

    def _locate(self, path: str) -> tuple[Path, str]:
        """(real path, the path as the model should see it in results)."""
        if not isinstance(path, str):
            raise ToolError("a path must be a string relative to the worktree root")
        if len(path) > MAX_PATH_CHARS:
            raise ToolError(
                f"path '{path[:60]}...' is {len(path):,} characters long; paths are at most "
                f"{MAX_PATH_CHARS:,}: use a shorter path, e.g. 'src/app.py'"
            )
        if "\0" in path:
            raise ToolError(f"path {path!r} contains a NUL character")
        if os.path.isabs(path) or path == "~" or path.startswith("~/"):
            raise ToolError(
                f"path '{path}' is absolute; use paths relative to the worktree root, "
                "e.g. 'src/app.py'"
            )
        parts = PurePosixPath(os.path.normpath(path or ".")).parts
        if parts and parts[0] == "..":
            raise ToolError(
                f"path '{path}' is outside the worktree; use paths relative to the worktree root"
            )
        if len(parts) > MAX_PATH_DEPTH:
            raise ToolError(
                f"path '{path[:60]}...' is {len(parts)} levels deep; paths are at most "
                f"{MAX_PATH_DEPTH} levels: put the file in a shallower directory"
            )
        for part in parts:
            if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
                raise ToolError(
                    f"the name '{part[:60]}...' in the path is longer than {MAX_NAME_BYTES} "
                    "bytes, the most a file or directory name can have: use a shorter name"
                )
        if any(_is_git_part(part) for part in parts):
            raise ToolError(self._git_refusal(path))
        try:
            # Not strict: follows every symlink on the way, dangling ones too, and keeps the
            # rest of a path that does not exist yet under its nearest existing parent.
            real = self.root.joinpath(*parts).resolve()
        except (OSError, RuntimeError) as exc:
            raise ToolError(f"cannot follow path '{path}': {exc}") from None
        if not real.is_relative_to(self.root):
            raise ToolError(
                f"path '{path}' leads outside the worktree through a symlink; only files "
                "inside the worktree can be used"
            )
        if any(_is_git_part(part) for part in real.relative_to(self.root).parts):
            raise ToolError(self._git_refusal(path))
        return real, PurePosixPath(*parts).as_posix() if parts else "."

    @staticmethod
    def _git_refusal(path: str) -> str:
        return (
            f"path '{path}' is inside .git, which the file tools do not touch; "
            "use `run` with git commands (git status, git log, git diff) instead"
        )

    # --- listing --------------------------------------------------------------------------------

    async def _git(self, *args: str, cwd: Path) -> bytes | None:
        """Standard output of a git command, or None when git is missing or fails."""
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in self.scrub_env and key not in GIT_LOCATION_VARS
        }
        try:
            proc = await asyncio.create_subprocess_exec(
                "git",
                *args,
                cwd=cwd,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError:
            return None
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), GIT_TIMEOUT)
        except TimeoutError:
            return None
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        return out if proc.returncode == 0 else None

    async def _is_git_root(self) -> bool:
        # A worktree inside some other repository must not be listed through that one's rules.
        if not self._git_root_confirmed:
            top = await self._git("rev-parse", "--show-toplevel", cwd=self.root)
            if top is not None:
                top_dir = Path(os.fsdecode(top.strip()))
                self._git_root_confirmed = top_dir.resolve() == self.root
        return self._git_root_confirmed

    async def _entries(self, directory: Path) -> Entries:
        """Everything under ``directory`` that git does not ignore; a plain walk outside git."""
        if await self._is_git_root():
            out = await self._git(
                "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=directory
            )
            if out is not None:
                names = [os.fsdecode(name) for name in out.split(b"\0") if name]
                return await asyncio.to_thread(self._entries_from_git, directory, names)
        return await asyncio.to_thread(self._walk, directory)

    def _entries_from_git(self, directory: Path, names: list[str]) -> Entries:
        base = directory.relative_to(self.root).parts
        entries: Entries = {}
        for name in names:  # relative to `directory`; an untracked nested repository ends in "/"
            parts = PurePosixPath(name.rstrip("/")).parts
            if any(_is_git_part(part) for part in parts):
                continue
            full = directory.joinpath(*parts)
            if not os.path.lexists(full):  # tracked, but deleted in the worktree
                continue
            is_dir = name.endswith("/") or (not full.is_symlink() and full.is_dir())
            for depth in range(1, len(parts)):
                entries[base + parts[:depth]] = True
            entries[base + parts] = is_dir
        return entries

    def _walk(self, directory: Path) -> Entries:
        try:
            return self._walk_all(directory)
        except RecursionError:  # os.walk recurses once per level (before Python 3.12)
            shown = directory.relative_to(self.root).as_posix()
            raise ToolError(
                f"the directories under '{shown}' are nested too deeply to list at once; "
                "list a deeper directory, or use `run` with find"
            ) from None

    def _walk_all(self, directory: Path) -> Entries:
        base = directory.relative_to(self.root).parts
        entries: Entries = {}
        for dirpath, dirnames, filenames in os.walk(directory):
            here = base + Path(dirpath).relative_to(directory).parts
            descend = []
            for name in dirnames:
                if _is_git_part(name):
                    continue
                # A symlink is listed as a file and never followed: it may point anywhere.
                is_link = os.path.islink(os.path.join(dirpath, name))
                entries[(*here, name)] = not is_link
                if not is_link:
                    descend.append(name)
            dirnames[:] = descend
            for name in filenames:
                if not _is_git_part(name):
                    entries[(*here, name)] = False
        return entries

    async def _list_files(self, path: str = ".") -> ToolResult:
        target, shown = self._locate(path)
        if not os.path.lexists(target):
            raise ToolError(f"'{shown}' does not exist; list '.' to see the whole worktree")
        if not target.is_dir():
            return ToolResult(output=shown, summary=f"listed {shown} (a file)")
        entries = await self._entries(target)
        lines = [
            "/".join(parts) + ("/" if is_dir else "") for parts, is_dir in sorted(entries.items())
        ]
        if not lines:
            return ToolResult(output=f"'{shown}' is empty", summary=f"listed {shown} (empty)")
        output = "\n".join(lines[:LIST_CAP])
        if len(lines) > LIST_CAP:
            output += f"\n... {len(lines) - LIST_CAP} more entries; list a subdirectory to see them"
        return ToolResult(
            output=output, summary=f"listed {shown} ({_plural(len(lines), 'entry', 'entries')})"
        )

    # --- reading and writing --------------------------------------------------------------------

    @staticmethod
    def _load_text_bytes(target: Path, shown: str) -> bytes:
        if not os.path.lexists(target):
            raise ToolError(
                f"file '{shown}' does not exist; use list_files or search to find the right path"
            )
        if target.is_dir():
            raise ToolError(f"'{shown}' is a directory; use list_files to see what is in it")
        if not target.is_file():
            raise ToolError(f"'{shown}' is not a regular file")
        size = target.stat().st_size
        if size > MAX_TEXT_FILE_BYTES:
            raise ToolError(
                f"'{shown}' is too large ({size} bytes) to load; use `run` with head, tail, "
                "sed -n or grep to look at parts of it"
            )
        data = target.read_bytes()
        if b"\0" in data:
            raise ToolError(
                f"'{shown}' is a binary file (it contains NUL bytes) and cannot be shown as text; "
                "use `run` with a tool such as `file` or `xxd | head` to inspect it"
            )
        return data

    async def _untracked_hard_links(self, files: list[Path]) -> set[Path]:
        """Those of ``files`` with more than one name (hard links) that git does not track.

        A hard link is the file itself, wherever its other name is: ``run`` can make one of a
        file outside the worktree (``ln ~/.ssh/id_rsa x``) that the jail's path checks cannot
        tell from a worktree file. Git never makes hard links in a checkout, so a tracked file
        is fine; when git cannot tell, the file counts as untracked."""
        linked = []
        for file in files:
            try:
                st = file.lstat()
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                linked.append(file)
        if not linked:
            return set()
        names = []
        for file in linked:
            with contextlib.suppress(ValueError):
                names.append(file.relative_to(self.root).as_posix())
        out = await self._git("--literal-pathspecs", "ls-files", "-z", "--", *names, cwd=self.root)
        tracked = {self.root / os.fsdecode(name) for name in (out or b"").split(b"\0") if name}
        return {file for file in linked if file not in tracked}

    async def _refuse_untracked_hard_link(self, target: Path, shown: str) -> None:
        if await self._untracked_hard_links([target]):
            raise ToolError(
                f"'{shown}' is a hard link (another name of a file that may live outside the "
                "worktree) and git does not track it: the file tools do not read or edit it. If "
                "it belongs to the project, replace it by a copy of its own and try again"
            )

    async def _read_file(self, path: str, offset: int = 1, limit: int | None = None) -> ToolResult:
        target, shown = self._locate(path)
        await self._refuse_untracked_hard_link(target, shown)
        data = await asyncio.to_thread(self._load_text_bytes, target, shown)
        lines = _split_lines(data.decode("utf-8", errors="replace"))
        total = len(lines)
        if total == 0:
            return ToolResult(output=f"'{shown}' is empty", summary=f"read {shown} (empty)")
        if offset > total:
            raise ToolError(
                f"offset {offset} is past the end of '{shown}', which has {_plural(total, 'line')}"
            )
        count = min(limit or self.max_read_lines, self.max_read_lines)
        end = min(total, offset - 1 + count)
        width = max(5, len(str(end)))
        shown_lines: list[str] = []
        size = 0
        for line in _numbered(((n, lines[n - 1]) for n in range(offset, end + 1)), width):
            if shown_lines and size + len(line) + 1 > self.output_cap:
                break
            shown_lines.append(line)
            size += len(line) + 1
        end = offset + len(shown_lines) - 1
        output = "\n".join(shown_lines)
        if end < total:
            output += (
                f"\n[showing lines {offset}-{end} of {total}; call read_file with "
                f"offset={end + 1} to read more]"
            )
        return ToolResult(output=output, summary=f"read {shown} (lines {offset}-{end} of {total})")

    async def _write_file(self, path: str, content: str) -> ToolResult:
        target, shown = self._locate(path)
        data = content.encode("utf-8")

        def write() -> bool:
            if target.is_dir():
                raise ToolError(f"'{shown}' is a directory; give the path of a file")
            existed = os.path.lexists(target)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise ToolError(
                    f"cannot create the directories for '{shown}': a file is in the way"
                ) from None
            write_atomic(target, data, keep_mode=True)
            return existed

        existed = await asyncio.to_thread(write)
        lines = _count_lines(content)
        verb = "wrote" if existed else "created"
        return ToolResult(
            output=f"{verb} {shown}: {_plural(lines, 'line')}, {_plural(len(data), 'byte')}",
            summary=f"{verb} {shown} ({_plural(lines, 'line')})",
        )

    async def _edit_file(self, path: str, old: str, new: str) -> ToolResult:
        target, shown = self._locate(path)
        if old == "":
            raise ToolError(
                "`old` is empty; give the exact text to replace (use write_file to create a file)"
            )
        if old == new:
            raise ToolError("`old` and `new` are the same, so there is nothing to change")
        await self._refuse_untracked_hard_link(target, shown)
        return await asyncio.to_thread(self._edit, target, shown, old, new)

    def _edit(self, target: Path, shown: str, old: str, new: str) -> ToolResult:
        # surrogateescape: bytes that are not UTF-8 elsewhere in the file survive the round trip.
        text = self._load_text_bytes(target, shown).decode("utf-8", errors="surrogateescape")
        count = text.count(old)
        if count == 0 and "\r\n" in text and "\n" in old and "\r\n" not in old:
            # The model sees lines without their "\r"; match the file's Windows line endings.
            crlf_old = old.replace("\n", "\r\n")
            if crlf_old in text:
                old, new = crlf_old, new.replace("\r\n", "\n").replace("\n", "\r\n")
                count = text.count(old)
        if count == 0:
            raise ToolError(self._no_match_message(shown, text, old))
        if count > 1:
            starts = [m.start() for m in re.finditer(re.escape(old), text)][:10]
            at = ", ".join(str(text.count("\n", 0, start) + 1) for start in starts)
            raise ToolError(
                f"`old` occurs {count} times in '{shown}' (starting at lines {at}); include "
                "more surrounding lines in `old` so that it matches exactly once"
            )
        index = text.index(old)
        updated = text[:index] + new + text[index + len(old) :]
        write_atomic(target, updated.encode("utf-8", errors="surrogateescape"), keep_mode=True)

        first = text.count("\n", 0, index) + 1
        removed, added = _count_lines(old), _count_lines(new)
        lines = _split_lines(updated)
        start = max(1, first - 3)
        stop = min(len(lines), first + max(added, 1) + 2, start + 39)
        snippet = _numbered(
            (
                (n, lines[n - 1].encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
                for n in range(start, stop + 1)
            ),
            max(5, len(str(stop))),
        )
        head = (
            f"edited {shown}: replaced {_plural(removed, 'line')} at line {first} with "
            f"{_plural(added, 'line')}. The file now reads:"
        )
        return ToolResult(
            output="\n".join([head, *snippet]),
            summary=f"edited {shown} (line {first}, -{removed} +{added})",
        )

    @staticmethod
    def _no_match_message(shown: str, text: str, old: str) -> str:
        message = f"`old` was not found in '{shown}'."
        if re.search(r"^\s*\d+\| ", old, re.MULTILINE):
            message += (
                " It seems to contain read_file's line-number prefixes such as '   12| '; "
                "those are not part of the file, leave them out."
            )
        wanted = next((line.strip() for line in old.split("\n") if line.strip()), "")
        lines = [line.strip() for line in _split_lines(text)]
        if wanted and len(lines) <= 20_000:
            close = difflib.get_close_matches(wanted, lines, n=1, cutoff=0.6)
            if close:
                number = lines.index(close[0]) + 1
                message += f" The closest line is line {number}: {_one_line(close[0], 120)!r}."
        return (
            message + " Re-read the file with read_file and copy the text exactly, "
            "including indentation and blank lines."
        )

    # --- search ---------------------------------------------------------------------------------

    async def _search(self, pattern: str, path: str = ".") -> ToolResult:
        if len(pattern) > MAX_PATTERN_CHARS:
            raise ToolError(
                f"the pattern is {len(pattern):,} characters long; the most is "
                f"{MAX_PATTERN_CHARS:,}: search for a shorter, distinctive part of the text"
            )
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ToolError(
                f"invalid regular expression {pattern!r}: {exc}. The pattern is a Python regex: "
                "escape special characters such as ( ) [ ] . * + ? with a backslash to match "
                "them literally"
            ) from None
        except RecursionError:
            raise ToolError(
                "the regular expression nests groups too deeply to compile; use a simpler "
                "pattern (fewer nested parentheses)"
            ) from None
        target, shown = self._locate(path)
        if not os.path.lexists(target):
            raise ToolError(f"'{shown}' does not exist; search '.' to look through the worktree")
        if target.is_dir():
            entries = await self._entries(target)
            files = [
                self.root.joinpath(*parts)
                for parts, is_dir in sorted(entries.items())
                if not is_dir
            ]
        else:
            files = [target]
        hidden = await self._untracked_hard_links(files)  # see _untracked_hard_links
        files = [file for file in files if file not in hidden]
        return await asyncio.to_thread(self._grep, regex, files, pattern, shown)

    def _grep(self, regex: re.Pattern, files: list[Path], pattern: str, shown: str) -> ToolResult:
        matches: list[str] = []
        matched_files = 0
        too_large = 0
        for file in files:
            # Symlinks are skipped: they may lead out of the worktree, and their target is
            # searched under its own name anyway.
            if file.is_symlink() or not file.is_file():
                continue
            try:
                if file.stat().st_size > SEARCH_MAX_FILE_BYTES:
                    too_large += 1
                    continue
                data = file.read_bytes()
            except OSError:
                continue
            if b"\0" in data:
                continue
            name = file.relative_to(self.root).as_posix()
            found_here = False
            for number, line in enumerate(_split_lines(data.decode("utf-8", "replace")), 1):
                match = regex.search(line)
                if match is None:
                    continue
                found_here = True
                matches.append(f"{name}:{number}: {self._excerpt(line.rstrip(), match)}")
                if len(matches) >= SEARCH_MATCH_CAP:
                    break
            matched_files += found_here
            if len(matches) >= SEARCH_MATCH_CAP:
                break
        notes = []
        if len(matches) >= SEARCH_MATCH_CAP:
            notes.append(
                f"[stopped after {SEARCH_MATCH_CAP} matches; narrow the pattern or the path]"
            )
        if too_large:
            notes.append(f"[skipped {_plural(too_large, 'file')} over 1 MB]")
        if not matches:
            output = "\n".join([f"no matches for {pattern!r} in {shown}", *notes])
        else:
            output = "\n".join(matches + notes)
        return ToolResult(
            output=output,
            summary=f"searched {_one_line(pattern, 40)!r} in {shown}: "
            f"{_plural(len(matches), 'match', 'matches')} "
            f"in {_plural(matched_files, 'file')}",
        )

    @staticmethod
    def _excerpt(line: str, match: re.Match) -> str:
        if len(line) <= SEARCH_LINE_CHARS:
            return line
        start = max(0, min(match.start() - 50, len(line) - SEARCH_LINE_CHARS))
        end = start + SEARCH_LINE_CHARS
        return ("..." if start else "") + line[start:end] + ("..." if end < len(line) else "")

    # --- commands -------------------------------------------------------------------------------

    async def _run(self, command: str, timeout: float | None = None) -> ToolResult:
        if not command.strip():
            raise ToolError(f"the command is empty; e.g. {_EXAMPLES['run']}")
        size = len(command.encode("utf-8", "surrogateescape"))
        if size > MAX_COMMAND_BYTES:
            raise ToolError(
                f"the command is {size:,} bytes long; the most is {MAX_COMMAND_BYTES:,}: write "
                "the script to a file with write_file and run that file"
            )
        if "\0" in command:
            raise ToolError("the command contains a NUL character, which no shell accepts")
        longest = self.command_timeout * TIMEOUT_CAP_FACTOR
        note = ""
        if timeout is None:
            timeout = self.command_timeout
        elif timeout > longest:
            note = f"[the timeout was capped at {longest:g}s]\n"
            timeout = longest
        base = os.environ if self.env is None else self.env
        env = {key: value for key, value in base.items() if key not in self.scrub_env}
        start = run_command if self.runtime is None else self.runtime.run
        result = await start(
            command, cwd=self.root, timeout=timeout, output_cap=self.output_cap, env=env
        )
        short = _one_line(command, 60)
        if result.timed_out:
            status = (
                f"timed out after {timeout:g}s; the command and its child processes were killed. "
                f"If it needs longer, pass a larger timeout (at most {longest:g}s) or run less "
                "at once."
            )
            summary = f"ran `{short}`: timed out after {timeout:g}s"
        else:
            status = f"exit code {result.exit_code}" + result.signal_note
            summary = f"ran `{short}`: exit {result.exit_code} ({result.elapsed:.1f}s)"
        return ToolResult(
            output=f"{status}\n{note}{result.output}", is_error=result.timed_out, summary=summary
        )

    async def _finish(self, summary: str) -> ToolResult:
        # The caller's loop ends the run; the summary is all there is to hand back.
        return ToolResult(output=summary, summary=f"finished: {_one_line(summary)}")

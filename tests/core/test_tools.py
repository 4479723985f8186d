"""The agent's tools on real temp worktrees: the jail, each tool, and processes that must not leak."""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kanban_agents.core.agent.tools import TOOL_NAMES, Toolbox, ToolError, ToolResult, tool_schemas
from tests.helpers import git

# --- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    root = tmp_path / "wt"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def main():\n    print('hello')\n")
    (root / "src" / "pkg" / "__init__.py").write_text("")
    (root / "README.md").write_text("# demo\n")
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the worktree holding a secret the tools must never reach."""
    root = tmp_path / "outside"
    root.mkdir()
    (root / "secret.txt").write_text("TOP-SECRET\n")
    return root


@pytest.fixture
def box(worktree: Path) -> Toolbox:
    return Toolbox(worktree)


def process_alive(pid: int) -> bool:
    """Running or stopped; a zombie waiting for a (possibly absent) reaper counts as gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


async def wait_for_file(path: Path, seconds: float = 10.0) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text()
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


def listing(result: ToolResult) -> list[str]:
    assert not result.is_error, result.output
    return result.output.splitlines()


# --- schemas and dispatch -----------------------------------------------------------------------


def test_schemas_name_every_tool_with_the_public_parameter_names():
    schemas = tool_schemas()
    json.dumps(schemas)  # goes over the wire as is
    functions = {s["function"]["name"]: s["function"] for s in schemas}
    assert all(s["type"] == "function" for s in schemas)
    assert tuple(functions) == TOOL_NAMES
    params = {name: f["parameters"] for name, f in functions.items()}
    assert {name: sorted(p["properties"]) for name, p in params.items()} == {
        "list_files": ["path"],
        "read_file": ["limit", "offset", "path"],
        "write_file": ["content", "path"],
        "edit_file": ["new", "old", "path"],
        "search": ["path", "pattern"],
        "run": ["command", "timeout"],
        "finish": ["summary"],
    }
    assert {name: p["required"] for name, p in params.items()} == {
        "list_files": [],
        "read_file": ["path"],
        "write_file": ["path", "content"],
        "edit_file": ["path", "old", "new"],
        "search": ["pattern"],
        "run": ["command"],
        "finish": ["summary"],
    }
    for function in functions.values():
        assert len(function["description"]) > 40
        for prop in function["parameters"]["properties"].values():
            assert prop["type"] in ("string", "integer", "number") and prop["description"]


def test_schemas_are_a_fresh_copy():
    tool_schemas()[0]["function"]["name"] = "changed"
    assert tool_schemas()[0]["function"]["name"] == "list_files"


async def test_unknown_tool_is_an_error_listing_the_tools(box):
    result = await box.call("delete_everything", {})
    assert result.is_error
    assert "delete_everything" in result.output and "read_file" in result.output
    assert result.summary


async def test_arguments_as_a_json_string_work(box):
    result = await box.call("read_file", '{"path": "src/app.py"}')
    assert not result.is_error
    assert "print('hello')" in result.output


@pytest.mark.parametrize("arguments", ['{"path": "src/app.py"', "{'path': 'x'}", "not json"])
async def test_invalid_json_arguments_are_an_error_with_an_example(box, arguments):
    result = await box.call("read_file", arguments)
    assert result.is_error
    assert "not valid JSON" in result.output
    assert '{"path": "src/app.py"' in result.output  # shows the model a well-formed call


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({}, "needs the argument 'path'"),
        ({"path": 3}, "'path' of read_file must be a string"),
        ({"path": "src/app.py", "offset": "ten"}, "'offset' of read_file must be a whole number"),
        ({"path": "src/app.py", "offset": True}, "must be a whole number"),
        ({"path": "src/app.py", "offset": 0}, "must be at least 1"),
        ({"path": "src/app.py", "file": "x"}, "has no argument 'file'; it accepts: path, offset"),
        ('["src/app.py"]', "must be a JSON object"),
    ],
)
async def test_bad_arguments_are_errors_naming_the_problem(box, arguments, expected):
    result = await box.call("read_file", arguments)
    assert result.is_error
    assert expected in result.output


async def test_null_and_integral_float_arguments_are_accepted(box):
    result = await box.call("read_file", {"path": "src/app.py", "offset": 2.0, "limit": None})
    assert not result.is_error
    assert result.output == "    2|     print('hello')"


async def test_finish_returns_the_summary(box):
    result = await box.call("finish", {"summary": "Added a flag.\nTests pass."})
    assert result == ToolResult(output="Added a flag.\nTests pass.", summary=result.summary)
    assert not result.is_error and "Added a flag." in result.summary


# --- the jail -----------------------------------------------------------------------------------

ESCAPES = ["../x", "/etc/passwd", "a/../../x", "src/../../outside/secret.txt", "~/x"]


@pytest.mark.parametrize("path", ESCAPES)
def test_resolve_refuses_paths_leaving_the_worktree(box, path):
    with pytest.raises(ToolError, match="worktree root"):
        box.resolve(path)


@pytest.mark.parametrize("path", [".git", ".git/config", "src/../.git/HEAD", ".GIT/config"])
def test_resolve_refuses_git_metadata(box, path):
    with pytest.raises(ToolError, match=r"inside \.git"):
        box.resolve(path)


def test_resolve_accepts_paths_inside(box, worktree):
    root = worktree.resolve()
    assert box.resolve("src/app.py") == root / "src" / "app.py"
    assert box.resolve("src/../README.md") == root / "README.md"
    assert box.resolve("new/dir/file.txt") == root / "new" / "dir" / "file.txt"
    assert box.resolve(".") == box.resolve("") == root


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("read_file", {}),
        ("write_file", {"content": "pwned\n"}),
        ("edit_file", {"old": "a", "new": "b"}),
        ("list_files", {}),
        ("search", {"pattern": "SECRET"}),
    ],
)
@pytest.mark.parametrize("path", [*ESCAPES, ".git/config"])
async def test_every_file_tool_refuses_escapes(repo, tmp_path, tool, arguments, path):
    box = Toolbox(repo)
    config_before = (repo / ".git" / "config").read_text()
    result = await box.call(tool, {**arguments, "path": path})
    assert result.is_error
    assert (
        "outside the worktree" in result.output
        or "absolute" in result.output
        or (".git" in result.output)
    )
    assert "SECRET" not in result.output
    assert not (tmp_path / "x").exists()
    assert (repo / ".git" / "config").read_text() == config_before


async def test_symlinked_directory_to_outside_is_refused(box, worktree, outside):
    (worktree / "link").symlink_to(outside, target_is_directory=True)

    read = await box.call("read_file", {"path": "link/secret.txt"})
    write = await box.call("write_file", {"path": "link/new.txt", "content": "pwned\n"})
    listed = await box.call("list_files", {"path": "link"})
    searched = await box.call("search", {"pattern": "SECRET", "path": "link"})

    for result in (read, write, listed, searched):
        assert result.is_error
        assert "outside the worktree through a symlink" in result.output
        assert "TOP-SECRET" not in result.output
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


async def test_listing_and_searching_the_worktree_do_not_follow_symlinks_out(
    box, worktree, outside
):
    (worktree / "link").symlink_to(outside, target_is_directory=True)
    (worktree / "leak.txt").symlink_to(outside / "secret.txt")
    assert "link" in listing(await box.call("list_files", {}))
    assert not any("secret" in line for line in listing(await box.call("list_files", {})))
    result = await box.call("search", {"pattern": "SECRET"})
    assert not result.is_error
    assert "TOP-SECRET" not in result.output
    assert result.output.startswith("no matches")


async def test_symlinked_file_to_outside_cannot_be_read_or_written(box, worktree, outside):
    (worktree / "leak.txt").symlink_to(outside / "secret.txt")
    read = await box.call("read_file", {"path": "leak.txt"})
    write = await box.call("write_file", {"path": "leak.txt", "content": "pwned\n"})
    edit = await box.call("edit_file", {"path": "leak.txt", "old": "TOP", "new": "NO"})
    assert read.is_error and write.is_error and edit.is_error
    assert "TOP-SECRET" not in read.output
    assert (outside / "secret.txt").read_text() == "TOP-SECRET\n"
    assert (worktree / "leak.txt").is_symlink()


async def test_dangling_symlink_to_outside_cannot_create_a_file_there(box, worktree, outside):
    (worktree / "future.txt").symlink_to(outside / "created.txt")
    (worktree / "future_dir").symlink_to(outside / "newdir")
    for path in ("future.txt", "future_dir/x.txt"):
        result = await box.call("write_file", {"path": path, "content": "pwned\n"})
        assert result.is_error
        assert "outside the worktree" in result.output
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


async def test_symlink_inside_the_worktree_is_followed(box, worktree):
    (worktree / "alias.py").symlink_to(worktree / "src" / "app.py")
    result = await box.call("read_file", {"path": "alias.py"})
    assert not result.is_error
    assert "def main" in result.output


async def test_symlink_into_git_metadata_is_refused(repo):
    (repo / "cfg").symlink_to(repo / ".git" / "config")
    result = await Toolbox(repo).call("read_file", {"path": "cfg"})
    assert result.is_error
    assert "inside .git" in result.output


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(["a", "b", "..", ".", "", ".git", "link", "up"]), max_size=6))
def test_resolve_never_returns_a_path_outside_or_in_git(tmp_path, parts):
    root = tmp_path / "prop"
    if not root.exists():
        (root / "a" / "b").mkdir(parents=True)
        (root / ".git").mkdir()
        (root / "link").symlink_to(tmp_path, target_is_directory=True)
        (root / "a" / "up").symlink_to(root / "a" / "..", target_is_directory=True)
    box = Toolbox(root)
    try:
        resolved = box.resolve("/".join(parts))
    except ToolError:
        return
    real_root = root.resolve()
    assert resolved.is_relative_to(real_root)
    assert ".git" not in resolved.relative_to(real_root).parts


# --- list_files ---------------------------------------------------------------------------------


async def test_list_files_walks_recursively_sorted_with_directories_marked(box, worktree):
    (worktree / ".git").mkdir()  # not a real repository: the plain walk must still skip it
    (worktree / ".git" / "config").write_text("[core]\n")
    (worktree / "src" / "empty").mkdir()
    assert listing(await box.call("list_files", {})) == [
        "README.md",
        "src/",
        "src/app.py",
        "src/empty/",
        "src/pkg/",
        "src/pkg/__init__.py",
    ]
    assert listing(await box.call("list_files", {"path": "src/pkg"})) == ["src/pkg/__init__.py"]
    assert listing(await box.call("list_files", {"path": "src/app.py"})) == ["src/app.py"]


async def test_list_files_of_a_missing_directory_is_an_error(box):
    result = await box.call("list_files", {"path": "nope"})
    assert result.is_error
    assert "'nope' does not exist" in result.output


async def test_list_files_respects_gitignore_in_a_repository(repo):
    (repo / ".gitignore").write_text("build/\n*.log\n")
    (repo / "build").mkdir()
    (repo / "build" / "out.txt").write_text("artifact\n")
    (repo / "debug.log").write_text("noise\n")
    (repo / "src").mkdir()
    (repo / "src" / "app.py").write_text("x = 1\n")  # untracked but not ignored
    (repo / "gone.txt").write_text("tracked\n")
    git(repo, "add", "gone.txt")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "add gone")
    (repo / "gone.txt").unlink()  # tracked, deleted in the worktree: not listed

    box = Toolbox(repo)
    assert listing(await box.call("list_files", {})) == [
        ".gitignore",
        "README.md",
        "src/",
        "src/app.py",
    ]
    assert listing(await box.call("list_files", {"path": "src"})) == ["src/app.py"]
    searched = await box.call("search", {"pattern": "artifact|noise"})
    assert searched.output.startswith("no matches")


async def test_list_files_caps_long_listings(box, worktree):
    many = worktree / "many"
    many.mkdir()
    for i in range(520):
        (many / f"f{i:04}.txt").write_text("")
    lines = listing(await box.call("list_files", {"path": "many"}))
    assert len(lines) == 501
    assert lines[0] == "many/f0000.txt"
    assert lines[-1] == "... 20 more entries; list a subdirectory to see them"


# --- read_file ----------------------------------------------------------------------------------


async def test_read_file_numbers_lines(box):
    result = await box.call("read_file", {"path": "src/app.py"})
    assert result.output == "    1| def main():\n    2|     print('hello')"
    assert result.summary == "read src/app.py (lines 1-2 of 2)"


async def test_read_file_pages_and_says_how_to_read_more(worktree):
    (worktree / "long.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    box = Toolbox(worktree, max_read_lines=4)
    first = await box.call("read_file", {"path": "long.txt"})
    assert first.output.splitlines() == [
        "    1| line 1",
        "    2| line 2",
        "    3| line 3",
        "    4| line 4",
        "[showing lines 1-4 of 10; call read_file with offset=5 to read more]",
    ]
    window = await box.call("read_file", {"path": "long.txt", "offset": 9, "limit": 100})
    assert window.output == "    9| line 9\n   10| line 10"
    past = await box.call("read_file", {"path": "long.txt", "offset": 11})
    assert past.is_error
    assert "past the end of 'long.txt', which has 10 lines" in past.output


async def test_read_file_refuses_binary_files(box, worktree):
    (worktree / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    result = await box.call("read_file", {"path": "image.png"})
    assert result.is_error
    assert "binary file" in result.output


async def test_read_file_missing_file_and_directory_are_errors(box):
    missing = await box.call("read_file", {"path": "src/nope.py"})
    directory = await box.call("read_file", {"path": "src"})
    assert missing.is_error and "does not exist" in missing.output
    assert directory.is_error and "is a directory" in directory.output


async def test_read_file_shows_invalid_utf8_and_cuts_huge_lines(box, worktree):
    (worktree / "odd.txt").write_bytes(b"caf\xe9\r\n" + b"y" * 5000 + b"\n")
    result = await box.call("read_file", {"path": "odd.txt"})
    first, second = result.output.splitlines()
    assert first == "    1| caf\ufffd"
    assert second.endswith("[... 3000 more characters on this line]")


# --- write_file and edit_file -------------------------------------------------------------------


async def test_write_file_creates_parents_atomically(box, worktree):
    result = await box.call(
        "write_file", {"path": "new/deep/mod.py", "content": "a = 1\nb = 2\nc = 3"}
    )
    assert not result.is_error
    assert result.summary == "created new/deep/mod.py (3 lines)"
    assert (worktree / "new" / "deep" / "mod.py").read_text() == "a = 1\nb = 2\nc = 3"
    assert os.listdir(worktree / "new" / "deep") == ["mod.py"]  # no temp file left behind


async def test_write_file_replaces_content_and_keeps_the_mode(box, worktree):
    script = worktree / "run.sh"
    script.write_text("#!/bin/sh\necho old\n")
    script.chmod(0o755)
    result = await box.call("write_file", {"path": "run.sh", "content": "#!/bin/sh\necho new\n"})
    assert result.summary == "wrote run.sh (2 lines)"
    assert script.read_text() == "#!/bin/sh\necho new\n"
    assert stat.S_IMODE(script.stat().st_mode) == 0o755


async def test_write_file_onto_a_directory_is_an_error(box):
    result = await box.call("write_file", {"path": "src", "content": "x"})
    assert result.is_error and "is a directory" in result.output


async def test_edit_file_replaces_the_unique_match_and_shows_the_change(box, worktree):
    result = await box.call(
        "edit_file",
        {
            "path": "src/app.py",
            "old": "    print('hello')\n",
            "new": "    print('hi')\n    return 0\n",
        },
    )
    assert not result.is_error, result.output
    assert (worktree / "src" / "app.py").read_text() == (
        "def main():\n    print('hi')\n    return 0\n"
    )
    assert "    2|     print('hi')" in result.output
    assert "    3|     return 0" in result.output
    assert result.summary == "edited src/app.py (line 2, -1 +2)"


async def test_edit_file_with_no_match_points_at_the_closest_line(box, worktree):
    before = (worktree / "src" / "app.py").read_text()
    result = await box.call(
        "edit_file", {"path": "src/app.py", "old": "  print('hello')\n  x", "new": "y"}
    )
    assert result.is_error
    assert "was not found in 'src/app.py'" in result.output
    assert "closest line is line 2" in result.output
    assert "Re-read the file" in result.output
    assert (worktree / "src" / "app.py").read_text() == before


async def test_edit_file_notices_line_number_prefixes(box):
    result = await box.call(
        "edit_file", {"path": "src/app.py", "old": "    1| def main():", "new": "def run():"}
    )
    assert result.is_error
    assert "line-number prefixes" in result.output


async def test_edit_file_with_several_matches_asks_for_more_context(box, worktree):
    (worktree / "dup.py").write_text("x = 1\ny = 2\nx = 1\nx = 1\n")
    result = await box.call("edit_file", {"path": "dup.py", "old": "x = 1", "new": "x = 3"})
    assert result.is_error
    assert "occurs 3 times" in result.output and "lines 1, 3, 4" in result.output
    assert "more surrounding lines" in result.output
    assert (worktree / "dup.py").read_text() == "x = 1\ny = 2\nx = 1\nx = 1\n"


async def test_edit_file_keeps_windows_line_endings_and_foreign_bytes(box, worktree):
    (worktree / "win.txt").write_bytes(b"one\r\ntwo \xff\r\nthree\r\n")
    result = await box.call("edit_file", {"path": "win.txt", "old": "one\ntwo", "new": "1\n2"})
    assert not result.is_error, result.output
    assert (worktree / "win.txt").read_bytes() == b"1\r\n2 \xff\r\nthree\r\n"


# --- search -------------------------------------------------------------------------------------


async def test_search_reports_file_line_and_text(box, worktree):
    (worktree / "src" / "pkg" / "util.py").write_text("import os\n\ndef main_helper():\n    pass\n")
    (worktree / "blob.bin").write_bytes(b"def main\x00")
    result = await box.call("search", {"pattern": r"def main\w*\("})
    assert result.output.splitlines() == [
        "src/app.py:1: def main():",
        "src/pkg/util.py:3: def main_helper():",
    ]
    assert result.summary == "searched 'def main\\\\w*\\\\(' in .: 2 matches in 2 files"
    only_pkg = await box.call("search", {"pattern": "def", "path": "src/pkg"})
    assert only_pkg.output == "src/pkg/util.py:3: def main_helper():"


async def test_search_with_an_invalid_regex_explains_escaping(box):
    result = await box.call("search", {"pattern": "print("})
    assert result.is_error
    assert "invalid regular expression 'print('" in result.output
    assert "backslash" in result.output


async def test_search_caps_matches_cuts_long_lines_and_skips_big_files(box, worktree):
    (worktree / "many.txt").write_text("hit\n" * 300)
    (worktree / "wide.txt").write_text("a" * 1000 + "NEEDLE" + "b" * 1000 + "\n")
    (worktree / "huge.txt").write_text("NEEDLE\n" + "z" * 1_100_000)
    capped = (await box.call("search", {"pattern": "^hit$"})).output.splitlines()
    assert capped[:200] == [f"many.txt:{n}: hit" for n in range(1, 201)]
    assert capped[200].startswith("[stopped after 200 matches")
    wide = (await box.call("search", {"pattern": "NEEDLE"})).output.splitlines()
    assert wide[0].startswith("wide.txt:1: ...") and "NEEDLE" in wide[0]
    assert len(wide[0]) < 230
    assert wide[1] == "[skipped 1 file over 1 MB]"


# --- run ----------------------------------------------------------------------------------------


async def test_run_reports_exit_code_and_merged_output_from_the_worktree(box, worktree):
    result = await box.call("run", {"command": "pwd; echo out; echo err >&2; exit 3"})
    assert not result.is_error
    lines = result.output.splitlines()
    assert lines[0] == "exit code 3"
    assert lines[1] == str(worktree.resolve())
    assert set(lines[2:]) == {"out", "err"}
    assert result.summary.startswith("ran `pwd; echo out; echo err >&2; exit 3`: exit 3")


async def test_run_has_no_stdin_and_says_when_there_is_no_output(box):
    result = await box.call("run", {"command": "cat", "timeout": 5})
    assert result.output == "exit code 0\n(no output)"


async def test_run_decodes_invalid_utf8_with_replacement(box):
    result = await box.call("run", {"command": r"printf 'caf\351 ok\n'"})
    assert result.output == "exit code 0\ncaf\ufffd ok\n"


async def test_run_caps_output_keeping_head_and_tail(worktree):
    box = Toolbox(worktree, output_cap=1000)
    command = "printf HEAD; head -c 500000 /dev/zero | tr '\\0' x; printf TAIL"
    result = await box.call("run", {"command": command})
    header, body = result.output.split("\n", 1)
    assert header == "exit code 0"
    assert body.startswith("HEADxxx")
    assert body.endswith("xxxTAIL")
    cut = re.search(r"\[\.\.\. (\d+) characters cut \.\.\.\]", body)
    assert cut is not None
    assert int(cut.group(1)) == 500008 - 1000
    assert len(body) < 1100


async def test_run_scrubs_api_keys_from_the_environment(worktree, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-default-secret")
    monkeypatch.setenv("OTHER_PROVIDER_KEY", "sk-other-secret")
    monkeypatch.setenv("HARMLESS_SETTING", "visible")
    default = await Toolbox(worktree).call("run", {"command": "env"})
    assert "sk-default-secret" not in default.output
    assert "OPENAI_API_KEY" not in default.output
    assert "HARMLESS_SETTING=visible" in default.output

    custom = Toolbox(worktree, scrub_env=("OPENAI_API_KEY", "OTHER_PROVIDER_KEY"))
    result = await custom.call("run", {"command": "env"})
    assert "secret" not in result.output
    assert "HARMLESS_SETTING=visible" in result.output


async def test_run_timeout_kills_the_whole_process_group(box, worktree):
    command = "sleep 60 & echo $! > grandchild.pid; echo $$ > shell.pid; echo started; sleep 60"
    started = time.monotonic()
    result = await box.call("run", {"command": command, "timeout": 1})
    assert time.monotonic() - started < 10
    assert result.is_error
    assert result.output.startswith("timed out after 1s")
    assert "started" in result.output
    for name in ("grandchild.pid", "shell.pid"):
        pid = int((worktree / name).read_text())
        assert not process_alive(pid), f"{name} {pid} survived the timeout"


async def test_run_kills_a_group_that_ignores_sigterm(box, worktree):
    command = "trap '' TERM; sh -c \"trap '' TERM; sleep 60\" & echo $! > child.pid; sleep 60"
    result = await box.call("run", {"command": command, "timeout": 0.3})
    assert result.output.startswith("timed out")
    assert not process_alive(int((worktree / "child.pid").read_text()))


async def test_run_stops_background_processes_when_the_command_ends(box, worktree):
    started = time.monotonic()
    result = await box.call(
        "run", {"command": "nohup sleep 60 >/dev/null 2>&1 & echo $! > bg.pid; echo done"}
    )
    # Promptly: SIGTERM ends sleep at once, even where nobody reaps the zombie it leaves.
    assert time.monotonic() - started < 1.5
    assert result.output == "exit code 0\ndone\n"
    assert not process_alive(int((worktree / "bg.pid").read_text()))


async def test_cancelling_the_call_kills_the_process_group(box, worktree):
    command = "sleep 60 & echo $! > grandchild.pid; echo $$ > shell.pid; sleep 60"
    task = asyncio.create_task(box.call("run", {"command": command}))
    await wait_for_file(worktree / "grandchild.pid")
    await wait_for_file(worktree / "shell.pid")
    grandchild = int((worktree / "grandchild.pid").read_text())
    shell = int((worktree / "shell.pid").read_text())
    assert process_alive(grandchild) and process_alive(shell)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not process_alive(grandchild)
    assert not process_alive(shell)


async def test_run_caps_the_timeout_at_ten_times_the_default(worktree):
    box = Toolbox(worktree, command_timeout=0.05)
    result = await box.call("run", {"command": "sleep 5", "timeout": 100})
    assert result.output.startswith("timed out after 0.5s")


async def test_run_refuses_an_empty_command(box):
    result = await box.call("run", {"command": "  "})
    assert result.is_error and "empty" in result.output


async def test_run_returns_when_a_detached_process_holds_the_output_open(box, worktree):
    from contextlib import suppress

    from tests.core.test_process import alive

    # The loop makes sure the process has left the group before the command ends.
    command = (
        "setsid sh -c 'echo $$ > escaped.pid; exec sleep 30' & "
        "while [ ! -s escaped.pid ]; do sleep 0.01; done; echo hi"
    )
    started = time.monotonic()
    result = await box.call("run", {"command": command})
    escaped = int((worktree / "escaped.pid").read_text())
    try:
        assert time.monotonic() - started < 8
        assert result.output.startswith("exit code 0\nhi\n")
        # It left the process group, yet it is ended too, and the output says so.
        assert f"pid {escaped} (sleep 30)" in result.output
        assert not alive(escaped)
    finally:
        with suppress(ProcessLookupError):
            os.kill(escaped, 9)  # the test cleans up after itself, whatever happened


# --- arguments too long or too deep -------------------------------------------------------------


def deep_path(levels: int) -> str:
    return "/".join(["d"] * levels) + "/f.txt"


@pytest.mark.parametrize("tool", ["write_file", "read_file", "edit_file", "list_files", "search"])
async def test_a_path_too_deep_is_an_error_saying_what_to_do(box, worktree, tool):
    arguments = {
        "write_file": {"content": "x"},
        "edit_file": {"old": "a", "new": "b"},
        "search": {"pattern": "x"},
    }.get(tool, {})
    # 1,500 levels (the reported case) is too long before it is too deep; 150 is too deep.
    reported = await box.call(tool, {**arguments, "path": deep_path(1500)})
    assert reported.is_error and "3,005 characters long" in reported.output
    assert "use a shorter path" in reported.output
    assert len(reported.output) < 300  # the path is not echoed back whole
    result = await box.call(tool, {**arguments, "path": deep_path(150)})
    assert result.is_error
    assert "151 levels deep" in result.output and "shallower directory" in result.output
    assert not (worktree / "d").exists()


async def test_a_deep_but_reasonable_path_is_written(box, worktree):
    result = await box.call("write_file", {"path": deep_path(99), "content": "x"})
    assert not result.is_error, result.output
    assert worktree.joinpath(*deep_path(99).split("/")).read_text() == "x"


@pytest.mark.parametrize(
    "path, expected",
    [
        ("a" * 300, "longer than 255 bytes"),
        ("/".join(["abcdefghij"] * 120), "characters long; paths are at most 1,024"),
    ],
    ids=["long-name", "long-path"],
)
async def test_a_path_too_long_is_an_error_saying_what_to_do(box, path, expected):
    result = await box.call("write_file", {"path": path, "content": "x"})
    assert result.is_error and expected in result.output
    assert "shorter" in result.output


@pytest.mark.parametrize(
    "arguments, expected",
    [
        ('{"path": "x", "content": ' + "[" * 100_000 + "]" * 100_000 + "}", "too deeply"),
        ('{"path": "x", "content": "y", "z": ' + '{"a": ' * 5_000 + "1" + "}" * 5_001, "deeply"),
        ('{"path": "x", "offset": ' + "1" * 5_000 + "}", "not usable JSON"),
        (json.dumps({"path": "big.txt", "content": "x" * 6_000_000}), "with a script"),
    ],
    ids=["nested-array", "nested-object", "huge-integer", "huge-content"],
)
async def test_arguments_too_big_or_too_nested_are_errors(box, worktree, arguments, expected):
    tool = "read_file" if "offset" in arguments else "write_file"
    result = await box.call(tool, arguments)
    assert result.is_error and expected in result.output, result.output[:300]
    assert len(result.output) < 400
    assert not (worktree / "big.txt").exists()


async def test_huge_arguments_given_as_a_dict_are_refused_too(box, worktree):
    result = await box.call("write_file", {"path": "big.txt", "content": "x" * 6_000_000})
    assert result.is_error and "6,000,007 characters" in result.output
    assert not (worktree / "big.txt").exists()


async def test_a_regex_nested_too_deeply_is_an_error(box):
    result = await box.call("search", {"pattern": "(" * 1000 + ")" * 1000})
    assert result.is_error and "fewer nested parentheses" in result.output
    long = await box.call("search", {"pattern": "x" * 20_000})
    assert long.is_error and "shorter" in long.output


async def test_a_command_too_long_for_the_shell_is_an_error(box):
    result = await box.call("run", {"command": "echo " + "x" * 200_000})
    assert result.is_error and "write the script to a file" in result.output
    nul = await box.call("run", {"command": "echo a\0b"})
    assert nul.is_error and "NUL" in nul.output


async def test_listing_a_tree_nested_deeper_than_python_recurses(tmp_path):
    import subprocess

    plain = tmp_path / "plain"  # not a git repository: listed by walking the directories
    plain.mkdir()
    deep = "/".join(["d"] * 1200)  # made by a command, as `run` could; os.walk recurses per level
    subprocess.run(["mkdir", "-p", deep], cwd=plain, check=True)
    try:
        result = await Toolbox(plain).call("list_files", {})
        assert result.is_error and "nested too deeply" in result.output
    finally:
        subprocess.run(["rm", "-rf", str(plain)], check=True)  # shutil.rmtree recurses too

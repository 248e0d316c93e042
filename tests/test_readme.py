"""The README against the code: its CLI reference, its Python API example and its code map."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import click
import polars as pl
import pytest

import monitor
from monitor.cli import main

ROOT = Path(monitor.__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
GLOBAL_OPTIONS = {opt for param in main.params for opt in param.opts}


def section(title: str) -> str:
    """Return the text of the README's ``## title`` section."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else len(README)]


def subsections(text: str) -> Iterator[tuple[str, str]]:
    """Yield (heading, body) of every ``### `` subsection of ``text``."""
    for part in text.split("\n### ")[1:]:
        heading, _, body = part.partition("\n")
        yield heading, body


def leaf_commands(
    group: click.Group = main, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from leaf_commands(command, (*path, name))
        else:
            yield " ".join((*path, name)), command


def resolve(words: list[str]) -> tuple[str, click.Command] | None:
    """Return (path, command) named by the words after ``monitor``, None when none is named."""
    command: click.Command = main
    path: list[str] = []
    rest = iter(words)
    for word in rest:
        if word in GLOBAL_OPTIONS:
            next(rest, None)  # its value
            continue
        if not isinstance(command, click.Group) or not re.fullmatch(r"[a-z][a-z0-9-]*", word):
            break
        sub = command.commands.get(word)
        if sub is None:
            pytest.fail(f"README names `monitor {' '.join([*path, word])}`: no such command")
        command, path = sub, [*path, word]
    return (" ".join(path), command) if path else None


def options_of(command: click.Command) -> set[str]:
    return {opt for param in command.params for opt in param.opts if opt.startswith("--")}


REFERENCE = dict(subsections(section("CLI reference")))
DOCUMENTED = {
    found[0]: (heading, body)
    for heading, body in REFERENCE.items()
    if heading.startswith("`monitor ")
    and (found := resolve(heading.strip("`").split()[1:])) is not None
}
LEAVES = dict(leaf_commands())


@pytest.mark.parametrize("path", sorted(LEAVES))
def test_every_command_has_a_reference_entry_naming_all_its_options(path: str) -> None:
    assert path in DOCUMENTED, f"README: no `### \\`monitor {path} ...\\`` entry in CLI reference"
    heading, _ = DOCUMENTED[path]
    missing = options_of(LEAVES[path]) - {"--help"} - set(OPTION.findall(heading))
    assert not missing, f"README heading of monitor {path} lacks {sorted(missing)}"


@pytest.mark.parametrize("heading", sorted(REFERENCE))
def test_every_option_the_reference_names_exists(heading: str) -> None:
    body = REFERENCE[heading]
    named = set(OPTION.findall(heading)) | set(OPTION.findall(body))
    if heading.startswith("`monitor "):
        found = resolve(heading.strip("`").split()[1:])
        assert found is not None, heading
        known = options_of(found[1]) | GLOBAL_OPTIONS
    else:
        known = GLOBAL_OPTIONS.union(*(options_of(c) for c in LEAVES.values()))
    assert named <= known, f"README {heading}: no such option {sorted(named - known)}"


def test_every_command_line_in_the_readme_names_real_commands_and_options() -> None:
    lines = re.findall(r"`monitor ([^`]+)`", README) + re.findall(
        r"^(?:\$ )?monitor (.+)$", README, flags=re.MULTILINE
    )
    assert len(lines) > 20
    for line in lines:
        words = line.split("#")[0].replace('"$(', " ").replace(')"', " ").split()
        found = resolve(words)
        if found is None:
            continue
        named = set(OPTION.findall(" ".join(words)))
        assert named <= options_of(found[1]) | GLOBAL_OPTIONS, f"`monitor {line}`"


# --- Python API ---------------------------------------------------------------------------------


def test_the_python_api_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = section("Python API")
    code = text.split("<!-- python-api -->\n```python\n", 1)[1].split("```", 1)[0]
    for name in monitor.__all__:
        assert f"{name}(" in code or f"except {name}" in code, f"no example of {name}"
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    calls = namespace["calls"]
    assert isinstance(calls, pl.DataFrame) and calls.height > 0
    assert (tmp_path / "calls.geojson").is_file()
    index = namespace["index"]
    assert isinstance(index, Path) and index.is_file()
    assert tmp_path / "reports" in index.resolve().parents
    assert (tmp_path / "demo" / "reports").is_dir()


# --- code map -----------------------------------------------------------------------------------


def layers() -> list[list[str]]:
    """Return the code map's table rows as the modules or packages each names, in order."""
    rows = re.findall(r"^\| (`[^|]+`) \|", section("Code map"), flags=re.MULTILINE)
    return [
        [name.strip("/").removesuffix(".py") for name in re.findall(r"`([^`]+)`", row)]
        for row in rows
    ]


def test_the_code_map_names_every_package_and_top_level_module() -> None:
    on_disk = {
        path.name.removesuffix(".py")
        for path in (ROOT / "monitor").iterdir()
        if path.suffix == ".py" or (path / "__init__.py").is_file()
    }
    assert {name for row in layers() for name in row} == on_disk

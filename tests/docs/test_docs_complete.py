"""The documentation names every format and command the code has (a new one fails here)."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from lamsach.cli.app import app
from lamsach.indicators.export import EXPORT_FORMATS
from lamsach.indicators.formats import FORMAT_NAMES
from lamsach.logs.formats import all_formats

ROOT = Path(__file__).resolve().parents[2]
FORMATS_DOC = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8")


def _table_names(section: str) -> set[str]:
    """The backquoted names that start table rows in one section of docs/formats.md."""
    return set(re.findall(r"^\| `([a-z0-9-]+)`", section, flags=re.MULTILINE))


def _section(title: str, doc: str = FORMATS_DOC) -> str:
    start = doc.index(title)
    level = title.split(" ", 1)[0]
    following = re.search(rf"^{level} ", doc[start + len(title) :], flags=re.MULTILINE)
    return doc[start : start + len(title) + following.start()] if following else doc[start:]


def test_every_log_format_is_documented() -> None:
    documented = _table_names(_section("## Network logs"))
    missing = {fmt.name for fmt in all_formats()} - documented
    assert not missing, f"log formats missing from docs/formats.md: {sorted(missing)}"


def test_the_formats_read_on_every_core_are_the_splittable_ones() -> None:
    paragraph = _section("## Network logs").split("**Read on every core.**")[1].split("\n\n")[0]
    said, rest = paragraph.split("Each file of the other formats")
    cut = {fmt.name for fmt in all_formats() if fmt.splittable} | {"zeek-tsv"}
    assert set(re.findall(r"`([a-z-]+)`", said)) == cut
    assert not set(re.findall(r"`([a-z-]+)`", rest)) & cut


def test_every_indicator_format_is_documented() -> None:
    section = _section("## Indicator lists")
    documented = _table_names(section.split("### Exports")[0])
    missing = set(FORMAT_NAMES) - documented
    assert not missing, f"indicator formats missing from docs/formats.md: {sorted(missing)}"


def test_every_export_format_is_documented() -> None:
    documented = _table_names(_section("### Exports"))
    missing = set(EXPORT_FORMATS) - documented
    assert not missing, f"export formats missing from docs/formats.md: {sorted(missing)}"


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    group = typer.main.get_group(app)
    names: list[str] = []
    for name, command in group.commands.items():
        subcommands = getattr(command, "commands", None)
        names.extend(f"lamsach {name} {sub}" for sub in subcommands or ())
        if not subcommands:
            names.append(f"lamsach {name}")
    missing = [name for name in names if name not in readme]
    assert not missing, f"commands missing from README.md: {missing}"

"""`molgfn tasks` and `molgfn data list|fetch|import`: the tasks and their data assets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Column, Table

from .base import console, out
from .common import _print_json
from .errors import friendly
from .options import DataDirOpt, Format, FormatOpt


@friendly
def tasks_cmd(data_dir: DataDirOpt = None, fmt: FormatOpt = Format.table) -> None:
    """List the tasks: name, kind, object space, reward exponent, assets and their status (piped or
    logged: whole names and notes, one line per task; --format json for scripts)."""
    import sys

    from rich.console import Console
    from rich.text import Text

    from molgfn import assets
    from molgfn.tasks import registry

    assets.set_data_dir(data_dir)
    rows = []
    for name, cls in sorted(registry().items()):
        if not isinstance(cls, type):
            rows.append({"task": name, "kind": "plugin", "objects": None, "reward_exponent": None, "assets": None,
                         "description": f"entry point {cls.value}"})
            continue
        space = getattr(cls, "space", None) or (f"{len(cls.alphabet)}^{cls.length}" if name != "custom"
                                                 else "your alphabet^L")
        rows.append({"task": name, "kind": cls.kind, "objects": space,
                     "reward_exponent": cls.reward_exponent if name != "custom" else None,
                     "assets": {a: assets.status(a)[0] for a in cls.assets}, "description": cls.description})
    if fmt == Format.json:
        _print_json(rows)
        return
    whole = not out.is_terminal  # piped or logged: nothing folded or cut at 80 columns
    table = Table(*(Column(h, no_wrap=whole) for h in ("task", "kind", "objects", "b", "assets", "description")))
    for r in rows:
        plugin = r["kind"] == "plugin"
        b = "?" if plugin else "--reward-exponent" if r["task"] == "custom" else f"{r['reward_exponent']:g}"
        st = "?" if plugin else ", ".join(f"{a}: {v}" for a, v in r["assets"].items()) or "none needed"
        # Text: a note such as molgfn[docking] is printed as written, not read as rich markup
        table.add_row(*(Text(str(v)) for v in (r["task"], r["kind"], r["objects"] or "?", b, st, r["description"])))
    (Console(file=sys.stdout, width=100_000) if whole else out).print(table)


@friendly
def data_list(data_dir: DataDirOpt = None) -> None:
    """Show every asset, its status (ok, missing, bad-checksum) and where it was found."""
    from molgfn import assets

    assets.set_data_dir(data_dir)
    table = Table("asset", "status", "path", "licence", "description")
    for name, a in assets.manifest().items():
        st, p = assets.status(name)
        table.add_row(name, st, str(p or ""), a.licence, a.description)
    out.print(table)
    console.print("searched: " + ", ".join(str(d) for d in assets.search_dirs()))


@friendly
def data_fetch(names: Annotated[list[str], typer.Argument(help="Asset names, or 'all'.")]) -> None:
    """Download assets from their public sources into the user cache, verifying sha256."""
    from molgfn import assets

    todo = list(assets.manifest()) if names == ["all"] else names
    for name in todo:
        p = assets.fetch(name)
        console.print(f"{name}: ok -> {p}")


@friendly
def data_import(src: Annotated[Path, typer.Argument(help="Folder laid out like the manifest's file paths.")]) \
        -> None:
    """Copy assets from a local folder into the user cache, verifying each sha256."""
    from molgfn import assets
    from molgfn.errors import InputError

    if not src.is_dir():
        raise InputError(f"{src} is not a folder")
    refused = 0
    for name, outcome in assets.import_dir(src):
        console.print(f"{name}: {outcome}")
        refused += outcome.startswith("REFUSED")
    if refused:
        raise InputError(f"{refused} file(s) in {src} refused (checksum mismatch): they are not the published "
                         "files; fetch them with `molgfn data fetch NAME`")

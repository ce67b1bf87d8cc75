"""molgfn command line (the console script ``molgfn``): a thin layer over molgfn/ and its task plugins.

The Typer app and its commands; each command (or group of commands) lives in its own module of
``molgfn.commands``, the options they share in ``molgfn.commands.options``."""

from __future__ import annotations

from typing import Annotated

import typer

from molgfn.commands.base import OUT_DIR_RENAMED, Command, Group, console, out, renamed
from molgfn.commands.bench import bench
from molgfn.commands.common import _rich_table
from molgfn.commands.data import data_fetch, data_import, data_list, tasks_cmd
from molgfn.commands.errors import friendly
from molgfn.commands.fragments import fragments_build
from molgfn.commands.options import (
    OBJECTIVE_HELP,
    Conditioning,
    ControlVariate,
    Device,
    Executor,
    Format,
    ListFormat,
    Logger,
    LSFilter,
    Objective,
    OnOracleError,
    Preset,
    ProgressMode,
)
from molgfn.commands.receptor import receptor_prepare
from molgfn.commands.reports import info, report
from molgfn.commands.sampling import evaluate, sample
from molgfn.commands.scoring import score, scores_cmd
from molgfn.commands.training import design, train

__all__ = ["OBJECTIVE_HELP", "Command", "Conditioning", "ControlVariate", "Device", "Executor", "Format", "LSFilter",
           "ListFormat", "Logger", "Objective", "OnOracleError", "Preset", "ProgressMode", "_rich_table", "app",
           "console", "data_app", "friendly", "out", "renamed"]

app = typer.Typer(cls=Group, help="Design molecules and biological sequences with GFlowNets.", no_args_is_help=True,
                  pretty_exceptions_enable=False, context_settings={"help_option_names": ["-h", "--help"]})
data_app = typer.Typer(cls=Group, help="Third-party data assets: list, fetch, import.", no_args_is_help=True)
app.add_typer(data_app, name="data")
fragments_app = typer.Typer(cls=Group, help="Block vocabularies from your own molecules.", no_args_is_help=True)
app.add_typer(fragments_app, name="fragments")
receptor_app = typer.Typer(cls=Group, help="Receptors for docking from your own structures.", no_args_is_help=True)
app.add_typer(receptor_app, name="receptor")


def _print_version(value: bool) -> None:
    if value:
        from molgfn import __version__

        out.print(f"molgfn {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                                help="Print the molgfn version and exit.")] = False) -> None:
    """Design molecules and biological sequences with GFlowNets."""


app.command("tasks", cls=Command)(tasks_cmd)
app.command(cls=renamed(OUT_DIR_RENAMED))(train)
app.command(cls=renamed(OUT_DIR_RENAMED))(design)
app.command(cls=renamed({"--n": "--num-samples"}))(sample)
app.command(cls=Command)(score)
app.command(cls=renamed({"--n": "--num-samples", "--k": "--top-k"}))(evaluate)
app.command(cls=renamed(OUT_DIR_RENAMED))(bench)
data_app.command("list", cls=Command)(data_list)
data_app.command("fetch", cls=Command)(data_fetch)
data_app.command("import", cls=Command)(data_import)
fragments_app.command("build", cls=Command)(fragments_build)
receptor_app.command("prepare", cls=renamed(OUT_DIR_RENAMED))(receptor_prepare)
app.command(cls=renamed(OUT_DIR_RENAMED))(report)
app.command(cls=Command)(info)
app.command("scores", cls=Command)(scores_cmd)


if __name__ == "__main__":
    app()

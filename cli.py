"""The molgfn command line from a checkout: ``python cli.py ...`` runs what the installed console script
``molgfn`` runs. The Typer app and the registration of its commands are ``molgfn/cli.py`` (installed with
the package, as is ``tasks/``, which the wheel maps to ``molgfn.tasks``); each command lives in
``molgfn/commands/``."""

from molgfn.cli import *  # noqa: F403 -- the names tests and scripts use: app, console, the option enums, ...
from molgfn.cli import __all__, app  # noqa: F401

if __name__ == "__main__":
    app()

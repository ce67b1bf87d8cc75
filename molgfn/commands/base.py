"""The command class of molgfn's commands (renamed options, one-line choice errors) and the consoles."""

from __future__ import annotations

import contextlib
import re
from enum import Enum

import typer
from rich.console import Console
from typer.core import TyperCommand, TyperGroup

try:  # recent typer vendors its own click
    from typer._click.exceptions import BadParameter
except ImportError:
    from click.exceptions import BadParameter


console = Console(stderr=True)
out = Console()


class Command(TyperCommand):
    """molgfn's commands. A command still reads the old spellings of its renamed options (``renamed``:
    old -> new, hidden from --help), each with a one-line deprecation note on stderr, so that scripts
    keep working. Only option names are rewritten: not the values of options, nor anything after ``--``.
    A value outside an option's fixed choices is one line naming them (Click's is a box of four).

    Its --help leaves out the ``--no-X`` form of flags (it still works; a help text names it where it
    matters): at 80 columns that column would leave the help text a third of the width. A flag shows no
    type (``<bool>``): it takes no value."""

    renamed: dict[str, str] = {}
    shown_negatives = ("local_search",)  # off in train, on in design's recipes: --no-local-search matters

    def format_help(self, ctx, formatter) -> None:
        quiet = [(p, p.secondary_opts) for p in self.params if getattr(p, "is_flag", False) and p.secondary_opts
                 and p.name not in self.shown_negatives]
        for p, _ in quiet:
            p.secondary_opts = []
        try:
            with _untyped_flags(self.get_params(ctx)):
                super().format_help(ctx, formatter)
        finally:
            for p, opts in quiet:
                p.secondary_opts = opts

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        takes_value = {o for p in self.params if p.param_type_name == "option" and not p.is_flag and not p.count
                       for o in (*p.opts, *p.secondary_opts)}
        new: list[str] = []
        rest = list(args)
        while rest:
            a = rest.pop(0)
            if a == "--":
                new += [a, *rest]
                break
            name, eq, value = a.partition("=") if a.startswith("--") else (a, "", "")
            if name not in self.renamed and len(a) > 2 and a[:2] in self.renamed and a[1] != "-":
                name, eq, value = a[:2], "", ""  # -oVALUE: the value becomes the next token
                rest.insert(0, a[2:])
            if name in self.renamed:
                if not ctx.resilient_parsing:
                    console.print(f"note: {name} is deprecated and will be removed; use {self.renamed[name]}",
                                  highlight=False)
                name = self.renamed[name]
            new.append(name + eq + value)
            if name in takes_value and not eq and rest:
                new.append(rest.pop(0))  # the option's value, whatever it looks like
        try:
            return super().parse_args(ctx, new)
        except BadParameter as e:
            choices = _choice_values(e.param)
            if not choices:
                raise
            flag = max(e.param.opts, key=len)
            got = re.search(r"('.*'|\".*\") is not one of", e.message or "")
            need = " or ".join(choices) if len(choices) == 2 else "one of " + ", ".join(choices)
            from rich.markup import escape

            console.print(f"[bold red]error:[/] {flag} must be {need}" + (f", got {escape(got[1])}" if got else ""),
                          highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None


class Group(TyperGroup):
    """molgfn and its command groups (``molgfn data``): as ``Command``, flags show no ``<bool>`` in --help."""

    def format_help(self, ctx, formatter) -> None:
        with _untyped_flags(self.get_params(ctx)):
            super().format_help(ctx, formatter)


@contextlib.contextmanager
def _untyped_flags(params):
    """While --help is written: flags (--resume, --help) show no type column, as they take no value."""
    flags = [p for p in params if getattr(p, "is_flag", False) and hasattr(p, "display_type_rich")]
    for p in flags:
        p.display_type_rich = lambda ctx=None: None  # an instance attribute over typer's method
    try:
        yield
    finally:
        for p in flags:
            p.__dict__.pop("display_type_rich", None)


def _choice_values(param) -> list[str]:
    """The values of an option typed by an Enum (or an optional one, or a list of one); [] otherwise."""
    import types
    import typing

    ann = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    while typing.get_origin(ann) in (list, typing.Union, types.UnionType):
        ann = [a for a in typing.get_args(ann) if a is not type(None)][0]
    return [m.value for m in ann] if isinstance(ann, type) and issubclass(ann, Enum) else []


def renamed(mapping: dict[str, str]) -> type[Command]:
    """The command class for ``@app.command(cls=renamed({"--old": "--new"}))``."""
    return type("Command", (Command,), {"renamed": mapping})


OUT_DIR_RENAMED = {"-o": "--out"}  # -o is --output (a file) everywhere; run folders are --out


def _plain(value):
    """A choice as its plain string (lists too): the library and the run files only ever see str."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _explicit_options() -> set[str]:
    """Names of the options the user typed (not defaults), from the running click command."""
    ctx = _current_context()
    if ctx is None:
        return set()
    return {n for n in ctx.params if getattr(ctx.get_parameter_source(n), "name", "") in ("COMMANDLINE",
                                                                                          "ENVIRONMENT")}


def _current_context():
    try:  # recent typer vendors its own click
        from typer._click.globals import get_current_context
    except ImportError:
        from click import get_current_context
    return get_current_context(silent=True)

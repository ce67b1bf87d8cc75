"""The README and its reference pages (docs/*.md) stay true: every `molgfn ...` line of their shell
blocks names a command that exists, with options that exist for it, values its choices accept and
the number of arguments it takes; the commands that `make demo` prints as next steps too; every
relative link resolves (file and heading); the quick start's commands run, with small overrides.

Lines of other programs are not run here; each program is listed in NOT_RUN with the reason."""

from __future__ import annotations

import functools
import re
import shlex
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from cli import app

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# programs the documentation's shell blocks use besides molgfn, and why this test does not run them
NOT_RUN = {
    "make": "installs a virtual environment and runs the demo or the suite (minutes); .ci/run runs it",
    "source": "activates the virtual environment in the user's shell",
    "pip": "installs packages from an index",
    "column": "a viewer of the candidate CSV (util-linux), not molgfn",
    "head": "a viewer, not molgfn",
    "curl": "downloads a file (a PDB entry) from the network",
    "echo": "writes a small input file",
}
SEPARATORS = {"&&", "||", "|", ";"}
REDIRECTS = {">", ">>", "<", "2>"}

BLOCK = re.compile(r"^[ \t]*```(?:bash|sh|shell)[ \t]*\n(.*?)^[ \t]*```", re.M | re.S)


def shell_blocks(text: str) -> list[str]:
    return BLOCK.findall(text)


def command_lines(block: str) -> list[list[str]]:
    """Each command of a shell block as tokens: continuation lines joined, comments and redirections
    dropped, `a && b`, `a | b` and `a; b` split into their commands."""
    joined = re.sub(r"\\\n", " ", block)
    out: list[list[str]] = []
    for line in joined.splitlines():
        cmd: list[str] = []
        toks = shlex.split(line, comments=True)
        while toks:
            tok = toks.pop(0)
            if tok in REDIRECTS:
                toks = toks[1:]  # `> run.toml`: the shell's, not the command's
            elif tok in SEPARATORS:
                out.append(cmd)
                cmd = []
            else:
                cmd.append(tok)
        out.append(cmd)
    return [c for c in out if c]


def documented_commands() -> list[tuple[str, list[str]]]:
    return [(page.relative_to(ROOT).as_posix(), cmd) for page in PAGES
            for block in shell_blocks(page.read_text()) for cmd in command_lines(block)]


def demo_next_commands() -> list[list[str]]:
    """The commands `make demo` prints after its run (the recipe's `@echo "  ..."` lines)."""
    recipe = (ROOT / "Makefile").read_text().split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    lines = re.findall(r'^\t@echo "  (.*)"$', recipe, re.M)
    return [c for line in lines for c in command_lines(line.replace("$(VENV)", ".venv"))]


def choices(param) -> list[str]:
    """The values a fixed-choice option accepts (an Enum, optional or in a list), else []."""
    import enum
    import types
    import typing

    listed = getattr(getattr(param, "type", None), "choices", None)  # plain click
    if listed:
        return [getattr(c, "value", c) for c in listed]
    ann = getattr(getattr(param, "type_descriptor", None), "annotation", None)  # typer's own click
    while typing.get_origin(ann) in (list, typing.Union, types.UnionType):
        ann = [a for a in typing.get_args(ann) if a is not type(None)][0]
    return [m.value for m in ann] if isinstance(ann, type) and issubclass(ann, enum.Enum) else []


@functools.cache
def molgfn_command():
    return typer.main.get_command(app)  # typer may bring its own click: duck-typed below


def check_parses(tokens: list[str]) -> None:
    """Parse `molgfn ARGS` with the real command's own parser (no callbacks, nothing run): the
    subcommand exists, every option is one of its options (current spelling, not a deprecated one)
    with a value where it takes one, fixed choices are among the choices, and the arguments fit."""
    assert tokens and Path(tokens[0]).name == "molgfn", tokens
    cmd = molgfn_command()
    args, path = tokens[1:], ["molgfn"]
    ctx = cmd.context_class(cmd, info_name="molgfn")
    while hasattr(cmd, "commands"):  # a group
        opts = {o for p in cmd.params for o in p.opts}
        while args and args[0].startswith("-"):
            assert args[0] in opts, f"{' '.join(path)} has no option {args[0]}"
            if args[0] == "--version":
                return
            args = args[1:]
        assert args, f"{' '.join(path)} needs a subcommand"
        sub = cmd.get_command(ctx, args[0])
        assert sub is not None, f"{' '.join(path)} has no subcommand {args[0]!r}"
        path.append(args[0])
        ctx = sub.context_class(sub, info_name=args[0], parent=ctx)
        cmd, args = sub, args[1:]
    where = " ".join(path)
    if args in (["-h"], ["--help"]):
        return
    try:
        values, positional, _ = cmd.make_parser(ctx).parse_args(args=list(args))
    except Exception as e:  # click's UsageError (NoSuchOption, BadOptionUsage, ...)
        if not hasattr(e, "format_message"):
            raise
        raise AssertionError(f"{where} {shlex.join(args)}: {e.format_message()}") from None
    for p in cmd.params:
        fixed = choices(p) if p.param_type_name == "option" and p.name in values else []
        if fixed:
            got = values[p.name] if isinstance(values[p.name], list | tuple) else [values[p.name]]
            for v in got:
                assert v in fixed, f"{where}: {max(p.opts, key=len)} {v!r} is not one of {fixed}"
    assert not positional, f"{where}: too many arguments {positional}"
    missing = [p.name.upper() for p in cmd.params if p.param_type_name == "argument" and p.required
               and values.get(p.name) is None]
    assert not missing, f"{where}: missing argument(s) {missing}"


def test_every_documented_command_parses():
    cmds = documented_commands()
    molgfn = [(page, c) for page, c in cmds if Path(c[0]).name == "molgfn"]
    assert len(molgfn) >= 40  # the README and the reference pages hold dozens of examples
    bad = []
    for page, c in molgfn:
        try:
            check_parses(c)
        except AssertionError as e:
            bad.append(f"{page}: {shlex.join(c)}\n    {e}")
    assert not bad, "documented commands that molgfn would refuse:\n" + "\n".join(bad)


def test_other_programs_in_the_docs_are_listed_with_the_reason_they_are_not_run():
    others = {Path(c[0]).name for _, c in documented_commands() if Path(c[0]).name != "molgfn"}
    assert others <= set(NOT_RUN), f"add these to NOT_RUN, with why they are not run: {others - set(NOT_RUN)}"


def test_make_demo_prints_next_commands_that_parse():
    cmds = demo_next_commands()
    subs = [c[1] for c in cmds if Path(c[0]).name == "molgfn"]
    assert {"report", "evaluate"} <= set(subs)
    assert any("runs/demo/candidates.csv" in c for c in cmds)  # look at the candidates
    for c in cmds:
        if Path(c[0]).name == "molgfn":
            check_parses(c)
        else:
            assert c[0] in NOT_RUN, c


def test_the_checker_refuses_what_molgfn_refuses():
    for bad in (["molgfn", "desing", "--task", "rna1"], ["molgfn", "design", "--taks", "rna1"],
                ["molgfn", "design", "--objective", "tbb"], ["molgfn", "evaluate"],
                ["molgfn", "evaluate", "runs/a", "runs/b"], ["molgfn", "sample", "runs/r", "--n", "5"],
                ["molgfn", "design", "--rounds"], ["molgfn", "data", "fetch", "--bogus"]):
        with pytest.raises(AssertionError):
            check_parses(bad)
    check_parses(["molgfn", "data", "fetch", "tfbind8-table"])
    check_parses(["molgfn", "--version"])


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # a `# comment` in a block is no heading
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def test_links_resolve_and_every_reference_page_is_linked_from_the_readme():
    bad, checked = [], 0
    for page in PAGES:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # an external address: not checked offline
            file, _, anchor = target.partition("#")
            checked += 1
            dest = (page.parent / file).resolve() if file else page
            if not dest.exists():
                bad.append(f"{page.name}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                bad.append(f"{page.name}: {target} (no such heading in {dest.name})")
    assert not bad, "broken links:\n" + "\n".join(bad)
    assert checked >= len(PAGES)  # every page links back to the README at least
    readme = (ROOT / "README.md").read_text()
    unlinked = [p.name for p in PAGES[1:] if f"(docs/{p.name})" not in readme]
    assert not unlinked, f"reference pages the README does not link: {unlinked}"


def quick_start() -> list[list[str]]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return command_lines(shell_blocks(section)[0])


def test_the_quick_start_is_five_commands_from_install_to_the_next_step():
    cmds = quick_start()
    assert cmds[0][:2] == ["make", "install"]  # 1. install
    subs = [c[1] for c in cmds if c[0] == "molgfn"]
    assert subs == ["design", "report", "evaluate"]  # 2. design, 4. report, 5. next
    assert any(c[0] == "column" and "runs/demo/candidates.csv" in c for c in cmds)  # 3. the candidates
    block = shell_blocks(readme_section("Quick start"))[0]
    assert [int(n) for n in re.findall(r"# (\d)\. ", block)] == [1, 2, 3, 4, 5]


def readme_section(title: str) -> str:
    return (ROOT / "README.md").read_text().split(f"## {title}", 1)[1].split("\n## ", 1)[0]


# the quick start's molgfn commands run as written, with these overrides to keep the test short (the
# README's 150 rounds and 1,000 final samples take about a minute); still an end-to-end run of three
# commands (training, the HTML report, evaluation), so it is in the slow step
OVERRIDES = {"design": ["--rounds", "2", "--num-samples", "64", "--executor", "local"],
             "evaluate": ["--num-samples", "64"]}


@pytest.mark.slow
def test_the_quick_start_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for c in quick_start():
        if c[0] != "molgfn":
            continue
        r = runner.invoke(app, c[1:] + OVERRIDES.get(c[1], []))
        assert r.exit_code == 0, (c, r.output)
    demo = tmp_path / "runs" / "demo"
    header = (demo / "candidates.csv").read_text().splitlines()[0].split(",")
    assert header[:6] == ["rank", "sequence", "raw_score", "reward", "times_sampled", "first_round"]
    assert (demo / "report.html").is_file() and (demo / "evaluation.json").is_file()

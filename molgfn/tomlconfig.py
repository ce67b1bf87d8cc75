"""Run settings from a TOML file (``--config run.toml``) and back (``--print-config``).

A config file holds command options as top-level keys named like the flags, without the
dashes (``batch-size = 64`` or ``batch_size = 64``; ``out = "runs/x"``). Flags given on the
command line override the file; the file overrides the defaults. Every key is checked
before anything runs: an unknown key is named with its closest option names, a value of the
wrong type names the key and the type it needs. ``--print-config`` writes the effective
options as TOML that ``--config`` reads back unchanged.

The command's options are described by Click parameters (the CLI's), so this module knows
no option by name.
"""

from __future__ import annotations

import difflib
import json
import math
from pathlib import Path

import tomllib

from .errors import InputError

SKIP = {"config", "print_config", "help", "version"}  # options about the config itself


# ---- reading ---------------------------------------------------------------------------------
def read_toml(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"config file {path} does not exist")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"config file {path} is not valid TOML: {e}") from None
    except UnicodeDecodeError as e:
        raise InputError(f"config file {path} is not UTF-8 text: {e}") from None
    except RecursionError:
        raise InputError(f"config file {path} nests tables or arrays too deeply to read; a molgfn config is "
                         "a flat list of options (see `molgfn design --print-config`)") from None


def option_keys(params) -> dict[str, object]:
    """Config key -> Click parameter: each long flag without dashes, with - or _ (``out`` for
    ``--out``), and the parameter's own name."""
    keys: dict[str, object] = {}
    for p in params:
        if p.name in SKIP or getattr(p, "hidden", False):
            continue
        names = [o[2:] for o in getattr(p, "opts", []) if o.startswith("--")] or [p.name]
        for n in [*names, p.name]:
            keys[n] = p
            keys[n.replace("-", "_")] = p
            keys[n.replace("_", "-")] = p
    return keys


def key_name(param) -> str:
    """The key ``--print-config`` writes for a parameter: its first long flag without dashes."""
    longs = [o[2:] for o in getattr(param, "opts", []) if o.startswith("--")]
    return longs[0] if longs else param.name.replace("_", "-")


def _kind(v) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(v), type(v).__name__)


def _annotation(param):
    """The Python type a parameter takes (Typer keeps the annotation; Optional is unwrapped)."""
    import types
    import typing

    ann = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        ann = args[0] if len(args) == 1 else str
    return ann


def _check_value(key: str, value, param, source: str):
    """The value as the CLI should receive it, or InputError naming the key and the type needed."""
    import enum
    import typing

    def bad(need: str):
        return InputError(f"{source}: key {key!r} must be {need}, got {value!r} ({_kind(value)})")

    ann = _annotation(param)
    is_num = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
    if getattr(param, "multiple", False) or typing.get_origin(ann) is list:
        if isinstance(value, dict):  # e.g. [task-option] modes = "diverse"  ->  ["modes=diverse"]
            value = [f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in value.items()]
        if isinstance(value, str) or is_num(value):
            value = [value]
        if not isinstance(value, list) or any(isinstance(v, (list, dict, bool)) for v in value):
            raise bad("a list of strings")
        return [str(v) for v in value]
    if ann is bool or getattr(param, "is_flag", False):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if ann is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        return value
    if ann is float:
        if not is_num(value):
            raise bad("a number")
        return float(value)
    if isinstance(ann, type) and issubclass(ann, enum.Enum):
        choices = [str(m.value) for m in ann]
        if not isinstance(value, str) or value not in choices:
            raise bad("one of " + ", ".join(choices))
        return value
    if is_num(value) and ann is not Path:
        return str(value)  # a string option given a number (e.g. beta = 2)
    if isinstance(value, list) and value and all(is_num(v) for v in value) and ann is not Path:
        return ",".join(str(v) for v in value)  # e.g. beta = [1, 5, 10] for "1,5,10"
    if not isinstance(value, str):
        raise bad("a path" if ann is Path else "a string")
    return value


def options_from_toml(raw: dict, params, source: str, elsewhere: dict[str, str] | None = None) -> dict:
    """Click parameter name -> value for every key of a parsed TOML file, all checked.
    ``elsewhere`` maps keys of other commands to their command, for a precise message."""
    keys = option_keys(params)
    elsewhere = elsewhere or {}
    out: dict = {}
    errors = []
    for key, value in raw.items():
        param = keys.get(key)
        if param is None and key in elsewhere:
            errors.append(f"{source}: key {key!r} is an option of `{elsewhere[key]}`, not of this command")
            continue
        if param is None:
            shown = sorted({key_name(p) for p in keys.values()})
            close = difflib.get_close_matches(key.replace("_", "-"), shown, n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(close)}?" if close else f"known keys: {', '.join(shown)}"
            errors.append(f"{source}: unknown key {key!r}; {hint}")
            continue
        if param.name in out:
            errors.append(f"{source}: key {key!r} sets {key_name(param)!r} a second time")
            continue
        try:
            out[param.name] = _check_value(key, value, param, source)
        except InputError as e:
            errors.append(str(e))
    if errors:
        raise InputError("; ".join(errors))
    return out


# ---- writing ---------------------------------------------------------------------------------
def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    # a TOML basic string: JSON's escapes (\" \\ \n \t \uXXXX) are TOML's too
    return json.dumps(str(v), ensure_ascii=False)


def dumps(options: dict[str, object], header: str = "") -> str:
    """Flat TOML for ``key -> value`` (values None are written as comments: unset, the default)."""
    lines = [f"# {ln}" if ln else "#" for ln in header.splitlines()]
    for key, v in options.items():
        bare = key if all(c.isalnum() or c in "-_" for c in key) else json.dumps(key)
        if v is None:
            lines.append(f"# {bare} =   (unset: the default)")
        else:
            lines.append(f"{bare} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"


def _plain(v):
    import enum

    if isinstance(v, enum.Enum):  # a choice: its value
        return v.value
    return str(v) if isinstance(v, Path) else v


def effective_options(values: dict, params) -> dict[str, object]:
    """The options of one invocation as config keys, in the command's order (paths as strings)."""
    out: dict[str, object] = {}
    for p in params:
        if p.name in SKIP or p.name not in values or getattr(p, "hidden", False):
            continue
        v = values[p.name]
        if isinstance(v, (list, tuple)):
            v = [_plain(x) for x in v] or None
        else:
            v = _plain(v)
        out[key_name(p)] = v
    return out

"""Loading the user's oracle function, ``package.module:function``, named on the command line or in a
scoring file (one loader: the same errors, and the working directory on the path, for every way in)."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable

from ..errors import TaskError


def load_callable(spec: str) -> Callable:
    mod_name, sep, attr = spec.partition(":")
    if not sep or not mod_name or not attr:
        raise TaskError(f"--oracle must look like package.module:function, got {spec!r}")
    # the console script does not put the working directory on sys.path as `python -m` does;
    # a user's oracle module next to them should just work
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.append(cwd)
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        if e.name and mod_name != e.name and not mod_name.startswith(e.name + "."):  # the module imports a missing one
            raise TaskError(f"oracle module {mod_name!r} failed to import: {e}; install {e.name!r} in this "
                            "environment") from None
        raise TaskError(f"cannot import oracle module {mod_name!r}: {e}. Is it installed, or on PYTHONPATH?") from None
    except SyntaxError as e:  # the user's own file: where the mistake is, not our traceback
        where = f"{e.filename}:{e.lineno}" if e.filename else mod_name
        raise TaskError(f"oracle module {mod_name!r} has a syntax error at {where}: {e.msg}; fix it and run "
                        "again") from None
    except (Exception, SystemExit) as e:  # raised while importing: the module's own code, not molgfn
        raise TaskError(f"oracle module {mod_name!r} raised {type(e).__name__} while importing: "
                        f"{_first_line(e)}{_where(e)}; fix the module and run again") from None
    fn = getattr(mod, attr, None)
    if not callable(fn):
        raise TaskError(f"{mod_name!r} has no callable {attr!r}")
    return fn


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else "(no message)"


def _where(e: BaseException) -> str:
    """`` (at FILE:LINE)``: the innermost frame of the error outside Python's import machinery."""
    import traceback

    frames = [f for f in traceback.extract_tb(e.__traceback__) if "importlib" not in f.filename]
    return f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""

"""The error handler of every command (`friendly`): one clear line per error, exit codes, the error log."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import typer

from .base import _plain, console


def friendly(fn):
    """Print MolgfnError (and bad values) as one clear line and exit 2, without a traceback.

    SIGINT / SIGTERM exit 130 / 143 with one line (training checkpoints first and says how to
    resume); any other exception is one line too, its traceback written to a log file in the
    run folder (or the user cache when there is none)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import signal
        import warnings

        from rich.markup import escape

        from molgfn.errors import Interrupted, MolgfnError

        def say(msg: str) -> None:
            _print_error(escape(msg), msg)  # never raises, even with stderr gone

        def on_term(signum, frame):  # outside training (which checkpoints first): stop like Ctrl-C
            raise Interrupted(signum, "SIGTERM received: stopped")

        def show(message, category, *a, **k):  # warnings as one line, not file:line: source
            say(f"warning: {message}")

        # what this command starts (oracle workers, an in-process oracle's processes) stops with it; what was
        # there before (a notebook's or a test session's) is left alone, and so is torch's thread count
        ex_mod = sys.modules.get("molgfn.oracle.executors")
        before = ex_mod.started() if ex_mod is not None else None
        torch_mod = sys.modules.get("torch")
        threads_before = torch_mod.get_num_threads() if torch_mod is not None else None

        old_term = signal.signal(signal.SIGTERM, on_term) if _main_thread() else None
        old_show = warnings.showwarning
        warnings.showwarning = show
        try:
            return fn(*args, **{k: _plain(v) for k, v in kwargs.items()})
        except Interrupted as e:
            say(f"interrupted: {e}")
            raise typer.Exit(128 + e.signum) from None
        except KeyboardInterrupt:
            say("interrupted (Ctrl-C): stopped")
            raise typer.Exit(130) from None
        except MolgfnError as e:
            _print_error(f"[bold red]error:[/] {escape(str(e))}", f"error: {e}")
            raise typer.Exit(2) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as e:  # an OS error is the user's (one line, exit 2); anything else a bug: its log
            raise typer.Exit(_report_error(e, kwargs)) from None
        finally:
            from molgfn import runs

            try:
                runs.unlock_all()  # a command run in-process (tests, notebooks) lets go of its run folder
            except OSError:
                pass
            try:  # the command is over: its oracle workers and what its oracles started stop with it
                from molgfn.oracle.executors import close_started_since

                close_started_since(before)
                if threads_before is not None:
                    torch_mod.set_num_threads(threads_before)
            except Exception:
                pass
            warnings.showwarning = old_show
            if old_term is not None:
                signal.signal(signal.SIGTERM, old_term)

    return wrapper


def _print_error(markup: str, plain: str) -> None:
    """The error line on stderr; never raises (a broken stderr gets the bare line, or nothing)."""
    import os

    try:
        console.print(markup, highlight=False, soft_wrap=True)
    except Exception:
        try:
            os.write(2, (plain + "\n").encode(errors="replace"))
        except (OSError, ValueError):
            pass


def _report_error(e: Exception, kwargs: dict) -> int:
    """Print an error that is not a MolgfnError as one line and return the exit code; never raises.
    An OS error the user can act on (a name too long, a full or read-only disk, no permission) is
    exit 2 naming the path (``molgfn.paths.os_error_message``); a closed pipe (``| head``) ends
    quietly; anything else is a bug: one line, its traceback in a log file, exit 1."""
    import os

    say = _print_error
    try:
        from rich.markup import escape

        from molgfn.paths import os_error_message

        if isinstance(e, BrokenPipeError):  # the reader went away: nothing to say, and no one to say it to
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError):
                pass
            return 141
        msg = os_error_message(e) if isinstance(e, OSError) else None
        if msg is not None:
            say(f"[bold red]error:[/] {escape(msg)}", f"error: {msg}")
            return 2
        log = _write_error_log(kwargs)
        where = f"the traceback is in {log}" if log else "no log file could be written"
        text = str(e)
        first = text.splitlines()[0][:200] if text.strip() else ""
        say(f"[bold red]error:[/] unexpected {type(e).__name__}: {escape(first)} ({escape(where)}; please include it "
            "when reporting this)", f"error: unexpected {type(e).__name__}: {first} ({where})")
    except Exception:  # the handler must never fail itself: the shortest possible line
        say("error: unexpected error", f"error: unexpected {type(e).__name__}")
    return 1


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _write_error_log(kwargs: dict) -> Path | None:
    """Append the current traceback to molgfn-error.log in the command's run folder when it is a
    molgfn run, else in the user cache (~/.cache/molgfn/logs) or the temp folder."""
    import datetime
    import tempfile
    import traceback

    from molgfn import runs

    text = (f"--- {datetime.datetime.now(datetime.timezone.utc).isoformat()} molgfn {' '.join(sys.argv[1:])}\n"
            + traceback.format_exc())
    dirs = []
    for d in (kwargs.get("run"), kwargs.get("out_dir")):
        try:  # a path the user gave may be anything (too long, unreadable): never fail here
            if d is not None and Path(d).is_dir() and runs.is_run_dir(Path(d)):
                dirs.append(Path(d))
        except (OSError, ValueError, TypeError):
            continue
    try:
        from molgfn.assets import cache_dir

        dirs.append(cache_dir() / "logs")
    except Exception:  # a broken cache setting ($XDG_CACHE_HOME) must not hide the error being reported
        pass
    for d in [*dirs, Path(tempfile.gettempdir()) / "molgfn-logs"]:
        try:
            d.mkdir(parents=True, exist_ok=True)
            with open(d / runs.ERROR_LOG, "a") as f:
                f.write(text)
            return d / runs.ERROR_LOG
        except (OSError, ValueError):
            continue
    return None

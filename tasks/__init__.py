"""Task plugins. Each module defines a short ``SequenceTask`` subclass; third-party
packages register more through the entry-point group ``molgfn.tasks`` (name -> class)."""

from __future__ import annotations

from importlib.metadata import entry_points

from molgfn.errors import TaskError

from .custom import CustomSequenceTask
from .custom_frag import CustomFragTask
from .pmo import PMO_TASKS
from .qed_frag import QEDFrag
from .qm9str import QM9Str
from .rna import RNA1, RNA2, RNA3, RNA4
from .seh_frag import SEHFrag
from .seh_frag_moo import SEHFragMOO
from .sehstr import SEHStr
from .tfbind8 import TFBind8
from .vina import VinaDock
from .xtb_gap import XTBGap

BUILTIN = {cls.name: cls for cls in (RNA1, RNA2, RNA3, RNA4, TFBind8, QM9Str, SEHStr, CustomSequenceTask)}
BUILTIN.update({cls.name: cls for cls in (SEHFrag, QEDFrag, CustomFragTask)})  # fragment molecules
BUILTIN[SEHFragMOO.name] = SEHFragMOO  # several objectives, weighted sum
BUILTIN.update({cls.name: cls for cls in (XTBGap, VinaDock)})  # physics oracles (optional extras)
BUILTIN.update(PMO_TASKS)  # the PMO benchmark's oracles (molgfn.chem.pmo)


def registry() -> dict[str, type]:
    tasks = dict(BUILTIN)
    for ep in entry_points(group="molgfn.tasks"):
        if ep.name not in tasks:
            tasks[ep.name] = ep  # loaded lazily: a broken plugin must not break `molgfn tasks`
    return tasks


def get_task(name: str, **options):
    tasks = registry()
    if name not in tasks:
        raise TaskError(f"unknown task {name!r}; known tasks: {', '.join(sorted(tasks))}")
    cls = tasks[name]
    if not isinstance(cls, type):
        try:
            cls = cls.load()
        except Exception as e:
            raise TaskError(f"task plugin {name!r} failed to load: {e}") from e
    try:
        task = cls(**options)
    except TypeError as e:
        raise TaskError(f"task {name!r} does not take these options {sorted(options)}: {e}") from e
    except ValueError as e:
        raise TaskError(f"task {name!r}: {e}") from e
    # what rebuilds this task from a run's config.json (a run trained through the library resumes and
    # samples from the CLI): the options as given, where they are plain data
    plain = str | int | float | bool | list | dict | None  # dict: a scoring file's content (custom-frag --scoring)
    task.task_options = {k: v for k, v in options.items() if isinstance(v, plain)}
    return task

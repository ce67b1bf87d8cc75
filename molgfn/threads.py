"""How many torch threads a run uses: the CPUs this process may actually use, and the size of the work.

torch's default is one thread per core of the machine, whatever this process is allowed and
whatever else runs there. On a shared node that is the wrong number twice over: the affinity mask,
the cgroup's CPU quota or the Slurm allocation may give this process far fewer CPUs, and the
policies of most tasks are so small that each matrix product finishes before threads are woken
(a tfbind8 round took 710 ms with the default threads against 151 ms with one, on a loaded
2-core machine: bench/ORACLES.md, "threads under load").

``usable_cpus``: the smallest of the affinity mask (``os.sched_getaffinity``), the cgroup v2 CPU
quota (``/sys/fs/cgroup/cpu.max``, rounded up), ``SLURM_CPUS_PER_TASK`` and ``OMP_NUM_THREADS``
(each when set). ``pick_threads``: one thread for a small model; otherwise one per
``WORK_PER_THREAD`` multiply-adds of the round's typical matrix product (trajectories x nodes x
hidden^2), at most the usable CPUs. ``--threads N`` overrides both; config.json records the number
(``machine.torch_threads``) and why (``machine.torch_threads_chosen_by``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

WORK_PER_THREAD = 1 << 22  # multiply-adds of one matrix product worth a thread (~1 ms of one core)
CHOSEN: dict[str, object] = {}  # the last choice of set_threads: {"threads": n, "why": "..."}


def _positive_int(text: str | None) -> int | None:
    try:
        n = int(str(text).strip())
    except (TypeError, ValueError):
        return None
    return n if n >= 1 else None


def _cgroup_cpus(path: Path = Path("/sys/fs/cgroup/cpu.max")) -> int | None:
    """CPUs of the cgroup v2 quota ("QUOTA PERIOD", rounded up), None for "max" or no file."""
    try:
        quota, _, period = path.read_text().strip().partition(" ")
    except OSError:
        return None
    q, p = _positive_int(quota), _positive_int(period or "100000")
    return max(1, math.ceil(q / p)) if q and p else None


def usable_cpus(environ: dict | None = None, cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> tuple[int, str]:
    """(CPUs this process may use, the limit that decided it)."""
    env = os.environ if environ is None else environ
    try:
        found = [(len(os.sched_getaffinity(0)), "the CPU affinity mask")]
    except (AttributeError, OSError):  # not Linux
        found = [(os.cpu_count() or 1, "the CPU count")]
    for n, why in ((_cgroup_cpus(cpu_max), f"the cgroup CPU quota ({cpu_max})"),
                   (_positive_int(env.get("SLURM_CPUS_PER_TASK")), "SLURM_CPUS_PER_TASK"),
                   (_positive_int(env.get("OMP_NUM_THREADS")), "OMP_NUM_THREADS")):
        if n is not None:
            found.append((n, why))
    return min(found, key=lambda t: t[0])


def pick_threads(cfg, env, usable: tuple[int, str] | None = None) -> tuple[int, str]:
    """(torch threads for training ``cfg`` on ``env``, why)."""
    cpus, limit = usable or usable_cpus()
    rows = (cfg.batch_size + cfg.replay_size) * int(getattr(env, "max_blocks", 1) or 1)
    work = rows * cfg.hidden * cfg.hidden
    n = max(1, min(cpus, work // WORK_PER_THREAD))
    if n == 1 and cpus > 1:
        return 1, f"a small model ({rows} rows x hidden {cfg.hidden}: threads would only wait on each other)"
    return n, f"{cpus} usable CPUs ({limit})" if n == cpus else f"the size of the model ({cpus} usable CPUs)"


def set_threads(n: int, why: str) -> int:
    """Set torch's intra-op thread count (and record the choice for config.json)."""
    import torch

    torch.set_num_threads(n)
    CHOSEN.update(threads=n, why=why)
    return n


def apply(cfg, env, requested: int | None = None) -> int:
    """The CLI's choice: ``--threads N`` (N >= 1) as given, else ``pick_threads``."""
    if requested:
        return set_threads(int(requested), "--threads")
    return set_threads(*pick_threads(cfg, env))

"""Upper bounds on sizes that could not finish, in one place, each named in its error.

- samples drawn at once (``sample`` / ``evaluate`` / ``design`` -n): at most ``MAX_SAMPLES``;
- the policy network and a round's batch: the *estimated* memory of training (parameters, their
  gradients and Adam's two moments, 16 bytes per parameter, plus a round's activations) must fit
  in the memory this process may use (``available_memory``: MemAvailable of /proc/meminfo, the
  cgroup's memory limit when one is set; on a GPU the free GPU memory);
- atoms per molecule scored from a user's SMILES: at most ``MAX_ATOMS`` heavy atoms (descriptors,
  3-D conformers and graph oracles grow faster than linearly: 2,000 atoms took a minute).

``check_ranges`` is the library's version of the CLI's number checks: every numeric argument of
``molgfn.api`` is checked as its flag is.
"""

from __future__ import annotations

import math
from pathlib import Path

from .errors import InputError

MAX_SAMPLES = 10**7  # samples per call: 10^7 objects is minutes of sampling and GBs of table
MAX_BLOCKS = 128  # blocks per fragment molecule (--max-blocks): a round's cost grows with its square
MAX_ATOMS = 500  # heavy atoms per molecule given to `score` (drug-like molecules have < 100)
MAX_SMILES_CHARS = 16 * MAX_ATOMS  # longer SMILES are refused before RDKit parses them
BYTES_PER_PARAM = 16  # float32 weights, gradients, Adam's exp_avg and exp_avg_sq
ACTIVATION_COPIES = 2  # per hidden unit and state; measured: tfbind8, --hidden 512, batch 8192 + replay 8192:
# peak RSS grew 1.6 GB, estimated 1.8 GB


def check_ranges(*specs: tuple[str, float | int | None, float | None, float | None]) -> None:
    """(name, value, lo, hi) tuples, either bound None: refuse non-numbers, NaN/inf and values
    outside [lo, hi] with one InputError naming the argument and its range."""
    for name, v, lo, hi in specs:
        number = isinstance(v, (int, float)) and not isinstance(v, bool)
        finite = number and (not isinstance(v, float) or math.isfinite(v))
        if not finite or (lo is not None and v < lo) or (hi is not None and v > hi):
            rng = "" if lo is None and hi is None else (f" >= {lo}" if hi is None else f" <= {hi}" if lo is None
                                                       else f" in [{lo}, {hi}]")
            raise InputError(f"{name} must be a finite number{rng}, got {v!r}")


def check_samples(name: str, n, lo: int = 1) -> None:
    """A number of samples: a whole number in [lo, MAX_SAMPLES]."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise InputError(f"{name} must be a whole number in [{lo}, {MAX_SAMPLES}], got {n!r}")
    if not lo <= n <= MAX_SAMPLES:
        raise InputError(f"{name} must be in [{lo}, {MAX_SAMPLES}] (at most {MAX_SAMPLES:.0e} samples at once: more "
                         f"would run for hours and fill memory; draw them in several calls), got {n}")


# ---- memory ---------------------------------------------------------------------------------------
def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max" (no limit) -> None


def _cgroup_free(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Bytes left under this process's cgroup memory limit (v2 or v1), None without a limit."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, controllers, rel = line.split(":", 2)
        if controllers == "":  # cgroup v2
            for d in (root / rel.lstrip("/"), root):
                limit = _read_int(d / "memory.max")
                if limit is not None:
                    return max(0, limit - (_read_int(d / "memory.current") or 0))
        elif "memory" in controllers.split(","):  # cgroup v1
            for d in (root / "memory" / rel.lstrip("/"), root / "memory"):
                limit = _read_int(d / "memory.limit_in_bytes")
                if limit is not None and limit < 1 << 60:  # v1 writes a huge number for "no limit"
                    return max(0, limit - (_read_int(d / "memory.usage_in_bytes") or 0))
    return None


def available_memory(device: str = "cpu") -> tuple[int | None, str]:
    """(bytes this process may still allocate, where that number comes from); (None, ...) if unknown."""
    if device == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info()
        return int(free), "free GPU memory"
    found: list[tuple[int, str]] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append((int(line.split()[1]) * 1024, "MemAvailable in /proc/meminfo"))
    except (OSError, ValueError, IndexError):
        pass
    cg = _cgroup_free()
    if cg is not None:
        found.append((cg, "the cgroup memory limit"))
    if not found:
        return None, "unknown"
    return min(found)


def estimate_training_memory(cfg, env, n_prefs: int = 0) -> tuple[int, int]:
    """(estimated bytes of training, parameters of the policy) for ``cfg`` on ``env``.

    The policy is built on torch's "meta" device (shapes only, nothing allocated) to count its
    parameters exactly; activations: a round's trajectories (batch + replay) x steps x
    (state features + ACTIVATION_COPIES x hidden x (layers + 1) x nodes) float32 values, nodes
    the blocks of a fragment state (1 for a sequence)."""
    import torch

    from .trainer import build_policy

    with torch.device("meta"):
        policy = build_policy(cfg, env, n_prefs)
    params = sum(p.numel() for p in policy.parameters())
    steps = int(getattr(env, "traj_len", 1) or 1) + 1
    features = int(getattr(env, "state_dim", 0) or 0)
    nodes = int(getattr(env, "max_blocks", 1) or 1)  # a graph policy keeps hidden units per node (block)
    width = features + ACTIVATION_COPIES * cfg.hidden * (cfg.n_layers + 1) * nodes
    acts = (cfg.batch_size + cfg.replay_size) * steps * width * 4
    return BYTES_PER_PARAM * params + acts, params


def check_training_memory(cfg, task) -> None:
    """``check_memory`` for a task (its environment, and its objectives when preference-conditioned)."""
    n_prefs = len(getattr(task, "components", None) or ()) if cfg.preference_dist not in ("", "none") else 0
    check_memory(cfg, task.env, n_prefs)


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def check_memory(cfg, env, n_prefs: int = 0, device: str | None = None) -> None:
    """Refuse a policy (--hidden x --layers) and batch (--batch-size + --replay-size) whose estimated
    training memory exceeds the memory available, naming the estimate and the bound."""
    if device is None:
        from .config import resolve_device

        device = resolve_device(cfg.device).type
    need, params = estimate_training_memory(cfg, env, n_prefs)
    have, where = available_memory(device)
    if have is None or need <= have:
        return
    raise InputError(f"--hidden {cfg.hidden} with --layers {cfg.n_layers} ({params:,} parameters) and --batch-size "
                     f"{cfg.batch_size} + --replay-size {cfg.replay_size} need an estimated {_gb(need)} to train "
                     f"(16 bytes per parameter for weights, gradients and Adam, plus a round's activations), more "
                     f"than the {_gb(have)} available ({where}); use a smaller --hidden, --layers or --batch-size")


# ---- molecules -----------------------------------------------------------------------------------
def molecule_size_error(smiles: str, mol=None) -> str:
    """Why a user's molecule is too large to score ("" when it is not): more than MAX_ATOMS heavy atoms."""
    if len(smiles) > MAX_SMILES_CHARS:
        return (f"a SMILES of {len(smiles)} characters: molgfn scores molecules of at most {MAX_ATOMS} heavy atoms "
                f"(SMILES of at most {MAX_SMILES_CHARS} characters)")
    if mol is not None and mol.GetNumHeavyAtoms() > MAX_ATOMS:
        return f"{mol.GetNumHeavyAtoms()} heavy atoms: molgfn scores molecules of at most {MAX_ATOMS}"
    return ""


def smiles_errors(smiles: list[str]) -> list[str]:
    """Per SMILES, why it cannot be scored ("" when it can): unparsable, or larger than MAX_ATOMS."""
    from rdkit import Chem

    from .chem.rdlog import quiet_rdkit

    out = []
    with quiet_rdkit():
        for s in smiles:
            why = molecule_size_error(s) if s else "unparsable SMILES"
            if not why:
                mol = Chem.MolFromSmiles(s)
                why = "unparsable SMILES" if mol is None else molecule_size_error(s, mol)
            out.append(why)
    return out

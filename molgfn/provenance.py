"""What a run needs to be reproduced: the options, the command line, the software and the machine.

``config.json`` in a run directory holds the training config (``TrainConfig`` fields, read back
by ``TrainConfig.load``) and beside it, under keys that loader ignores:

- ``options``: every option of the command as it ran (design options too), after defaults,
  config files and flags were merged;
- ``command``: the command line (argv);
- ``software``: molgfn, Python, torch, RDKit, torch-geometric, numpy and pandas versions, and
  the git commit (with a dirty flag) when molgfn runs from a source checkout;
- ``machine``: the device the run used (CUDA device name and torch's CUDA version when on a
  GPU), the platform and the CPU count.

- ``oracle_settings``: the executor and score-store settings the oracle ran with (the CLI's
  --executor ... --score-store), which a resume reuses unless they are given again.

A resumed run keeps the first command and appends each resume to ``resumed``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import asdict
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

PACKAGES = {"torch": "torch", "rdkit": "rdkit", "torch_geometric": "torch-geometric", "numpy": "numpy",
            "pandas": "pandas"}


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def git_commit(path: Path | None = None) -> dict | None:
    """The checkout's commit and whether it has uncommitted changes, or None outside a checkout
    (an installed wheel) or without git."""
    root = Path(path or Path(__file__).resolve().parent.parent)
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head, "dirty": bool(dirty)}


def software() -> dict:
    from . import __version__

    out: dict = {"molgfn": __version__, "python": platform.python_version()}
    for key, dist in PACKAGES.items():
        out[key] = _version(dist)
    try:
        import rdkit
        import torch

        out["torch"] = torch.__version__  # the build actually imported (e.g. +cpu, +cu121)
        out["rdkit"] = rdkit.__version__  # RDKit's own spelling (2024.03.1), not the wheel's
    except ImportError:
        pass
    git = git_commit()
    if git is not None:
        out["git"] = git
    return out


def machine(device) -> dict:
    out = {"device": str(device), "platform": platform.platform(), "cpu_count": os.cpu_count()}
    try:
        import torch

        out["torch_threads"] = torch.get_num_threads()
        from .threads import CHOSEN

        if CHOSEN.get("threads") == out["torch_threads"]:
            out["torch_threads_chosen_by"] = CHOSEN["why"]
        if str(device).startswith("cuda") and torch.cuda.is_available():
            out["cuda_device"] = torch.cuda.get_device_name(torch.device(device))
            out["cuda_version"] = torch.version.cuda
    except ImportError:
        pass
    return out


def _jsonable(v):
    import enum

    if isinstance(v, enum.Enum):
        return v.value
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)  # paths, enums


def run_record(cfg, options: dict | None = None, argv: list[str] | None = None, device=None,
               previous: dict | None = None, oracle_settings: dict | None = None) -> dict:
    """The content of config.json: ``asdict(cfg)`` plus options, command, software, machine."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rec = asdict(cfg)
    here = {"options": _jsonable(options or {}), "command": list(sys.argv if argv is None else argv),
            "software": software(), "machine": machine(device if device is not None else cfg.device),
            "started": now}
    if previous and "command" in previous:  # a resume: keep how the run began, log this start
        rec.update({k: previous[k] for k in ("options", "command", "software", "machine", "started")
                    if k in previous})
        rec["resumed"] = [*previous.get("resumed", []), here]
    else:
        rec.update(here)
    if oracle_settings is not None:  # the settings in effect now (a resume may have changed them)
        rec["oracle_settings"] = _jsonable(oracle_settings)
    return rec


def write_run_config(path: Path, cfg, options: dict | None = None, argv: list[str] | None = None,
                     device=None, oracle_settings: dict | None = None) -> dict:
    """Write config.json atomically (keeping the original command of a resumed run)."""
    from .atomic import atomic_write_text

    path = Path(path)
    previous = None
    if path.exists():
        try:
            previous = json.loads(path.read_text())
        except (OSError, ValueError):
            previous = None
    text = json.dumps(run_record(cfg, options, argv, device, previous, oracle_settings), indent=2)
    atomic_write_text(path, text)
    return json.loads(text)  # plain types only (enum choices become their values)

"""Prepared docking targets: the user's own folders of ``molgfn receptor prepare``, and those shipped by the
``dockstring`` package (García-Ortegón et al. 2022, J. Chem. Inf.
Model. 62, 3486): 58 receptors as PDBQT files with a Vina box each (``NAME_target.pdbqt`` and
``NAME_conf.txt`` under ``dockstring/resources/targets``).

Only the package's data files are read: dockstring itself is never imported (its code needs openbabel, which
molgfn does not use), so ``pip install --no-deps dockstring`` is enough.
"""

from __future__ import annotations

import difflib
import importlib.util
import math
from pathlib import Path

INSTALL = 'pip install "molgfn[docking]" (or pip install --no-deps dockstring)'
CONF_KEYS = ("center_x", "center_y", "center_z", "size_x", "size_y", "size_z")


def targets_dir() -> Path | None:
    """The folder holding dockstring's prepared targets, found without importing dockstring; None when the
    package is not installed."""
    spec = importlib.util.find_spec("dockstring")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        d = Path(root) / "resources" / "targets"
        if d.is_dir():
            return d
    return None


def list_targets(folder: Path | None = None) -> list[str]:
    """Names of the targets that have both a receptor PDBQT and a box conf file, sorted."""
    folder = targets_dir() if folder is None else folder
    if folder is None:
        return []
    return sorted(p.name[: -len("_target.pdbqt")] for p in folder.glob("*_target.pdbqt")
                  if (folder / (p.name[: -len("_target.pdbqt")] + "_conf.txt")).is_file())


def parse_conf(text: str, source: str = "conf") -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """A Vina config's box: ``center_x = 9.25`` lines (``#`` comments, other keys ignored) -> (center, size)."""
    vals: dict[str, float] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, sep, value = (s.strip() for s in line.partition("="))
        if not sep:
            raise ValueError(f"{source} line {n}: expected 'key = value', got {line!r}")
        if key in CONF_KEYS:
            try:
                vals[key] = float(value)
            except ValueError:
                raise ValueError(f"{source} line {n}: {key} must be a number, got {value!r}") from None
            if not math.isfinite(vals[key]):
                raise ValueError(f"{source} line {n}: {key} must be a finite number, got {value!r}")
    missing = [k for k in CONF_KEYS if k not in vals]
    if missing:
        raise ValueError(f"{source} has no {', '.join(missing)} (a Vina box needs {', '.join(CONF_KEYS)})")
    center = (vals["center_x"], vals["center_y"], vals["center_z"])
    size = (vals["size_x"], vals["size_y"], vals["size_z"])
    return center, size


def resolve_target(name: str, folder: Path | None = None):
    """NAME (case-insensitive) -> (receptor PDBQT path, center, size). A one-line ValueError names the known
    targets (and the nearest ones) when NAME is not one of them, and the install command when dockstring is
    not installed. NAME may also be a folder written by ``molgfn receptor prepare``: a path with a ``/``, or
    a bare name that is no dockstring target and names a folder holding a box.json (a dockstring name always
    means dockstring's target, whatever folders the working directory holds); its receptor.pdbqt and the
    box of its box.json (molgfn.chem.receptor)."""
    from .receptor import read_target_folder

    given = Path(str(name)).expanduser()
    if "/" in str(name):
        return read_target_folder(given)
    folder = targets_dir() if folder is None else folder
    known = list_targets(folder) if folder is not None else []
    if str(name).strip().upper() not in {k.upper() for k in known} and (given / "box.json").is_file():
        return read_target_folder(given)
    if not known:
        raise ValueError(f"target={name} needs dockstring's prepared targets, which are not installed: {INSTALL}")
    by_upper = {k.upper(): k for k in known}
    key = by_upper.get(str(name).strip().upper())
    if key is None:
        near = difflib.get_close_matches(str(name).strip().upper(), list(by_upper), n=3, cutoff=0.5)
        hint = f" (did you mean {' or '.join(by_upper[n] for n in near)}?)" if near else ""
        raise ValueError(f"unknown docking target {name!r}{hint}; known targets: {', '.join(known)}")
    conf = folder / f"{key}_conf.txt"
    center, size = parse_conf(conf.read_text(), source=str(conf))
    return folder / f"{key}_target.pdbqt", center, size

"""A restricted unpickler for third-party pickles.

Plain ``pickle.load`` runs arbitrary code named by the file. This loader only builds
objects from an allow-list (builtin containers and numpy array reconstructors); any
other global is either mapped to an inert stub class (when the caller names it, e.g.
scikit-learn estimators whose attributes we read) or refused.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path
from typing import Any

import numpy as np

_ALLOWED: dict[tuple[str, str], Any] = {
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "list"): list,
    ("builtins", "dict"): dict,
    ("builtins", "tuple"): tuple,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("collections", "OrderedDict"): __import__("collections").OrderedDict,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_mod, "_reconstruct")] = np._core.multiarray._reconstruct  # type: ignore[attr-defined]
    _ALLOWED[(_mod, "scalar")] = np._core.multiarray.scalar  # type: ignore[attr-defined]
for _mod in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_mod, "_frombuffer")] = np._core.numeric._frombuffer  # type: ignore[attr-defined]


class Stub:
    """Inert stand-in for a foreign class: keeps the pickled state as attributes, runs nothing."""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict_state, slot_state)
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self.__dict__["_state"] = state


class UnsafePickleError(pickle.UnpicklingError):
    pass


class RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, stubs: dict[tuple[str, str], type] | None = None) -> None:
        super().__init__(file)
        self._stubs = stubs or {}

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        if key in _ALLOWED:
            return _ALLOWED[key]
        if key in self._stubs:
            return self._stubs[key]
        raise UnsafePickleError(f"refusing to load {module}.{name} from an untrusted pickle")


def safe_load(path: str | Path, stubs: dict[tuple[str, str], type] | None = None) -> Any:
    """Load a (possibly gzipped) pickle with the restricted unpickler."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        return RestrictedUnpickler(f, stubs).load()


def stub_classes(*qualnames: str) -> dict[tuple[str, str], type]:
    """Stub classes for fully qualified names, e.g. 'sklearn.ensemble._hist_gradient_boosting.x.Y'."""
    out: dict[tuple[str, str], type] = {}
    for q in qualnames:
        module, _, name = q.rpartition(".")
        out[(module, name)] = type(name, (Stub,), {})
    return out

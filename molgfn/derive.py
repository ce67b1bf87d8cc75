"""Recipes that rebuild derived assets from their parent files (see ``assets.derive``).

Each recipe is ``fn(parent_path, out_file)``: it reads the verified parent asset and writes the
derived file's bytes to a binary file object. The bytes need not match the shipped file exactly
(npz archives carry timestamps); the arrays do.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def _sehstr_trees(pkl_path: Path, out: BinaryIO) -> None:
    import numpy as np

    from .chem.trees import trees_from_sklearn_pickle

    arrays = trees_from_sklearn_pickle(pkl_path)
    np.savez(out, **arrays)


DERIVERS: dict[str, Callable[[Path, BinaryIO], None]] = {
    "sehstr-trees": _sehstr_trees,
}

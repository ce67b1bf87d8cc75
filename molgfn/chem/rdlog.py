"""RDKit's log, silenced for a block and then put back exactly as it was.

RDKit keeps one on/off switch per level (``rdApp.debug``, ``info``, ``warning``, ``error``;
debug and info are off by default). ``DisableLog`` / ``EnableLog("rdApp.*")`` around a call
would switch every level on afterwards: it would undo a user's (or an oracle's) own silencing
and turn on RDKit's info and debug output. ``quiet_rdkit`` restores each level's previous state.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rdkit import rdBase


def log_levels() -> dict[str, bool]:
    """RDKit's log levels and whether each is on, e.g. {"rdApp.warning": True, ...}."""
    levels = {}
    for line in rdBase.LogStatus().splitlines():
        name, _, state = line.strip().partition(":")
        if name:
            levels[name] = state == "enabled"
    return levels


@contextmanager
def quiet_rdkit() -> Iterator[None]:
    """No RDKit log output inside the block; each level is as it was afterwards (nesting works)."""
    before = log_levels()
    rdBase.DisableLog("rdApp.*")
    try:
        yield
    finally:
        for name, on in before.items():
            if on:
                rdBase.EnableLog(name)

"""Shared fixtures. The reference data in ../shared/data (else $MOLGFN_DATA) serves as the asset
folder. Tests of behaviour run on the real assets when present and on synthetic ones
(tests/synthetic.py) otherwise; only the modules comparing with published values skip, once each,
naming the assets to fetch. MOLGFN_TEST_NO_SHARED=1 hides both, as on a machine that has never
seen the data (.ci/run uses it)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

# also for module- and session-scoped fixtures, which run before the per-test fixture below (on a
# 2-core machine a fixture that trains with torch's default threads ran 10x slower)
torch.set_num_threads(1)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if not SHARED.is_dir() and os.environ.get("MOLGFN_DATA"):
    SHARED = Path(os.environ["MOLGFN_DATA"]).expanduser()  # a clone without ../shared: the user's data folder
if os.environ.get("MOLGFN_TEST_NO_SHARED"):
    SHARED = Path("/nonexistent/molgfn-shared-data")  # a fresh machine: no reference data anywhere


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path_factory):
    # never read or write the user's real cache; use the shared reference data when present
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    if SHARED.is_dir():
        monkeypatch.setenv("MOLGFN_DATA", str(SHARED))
    else:
        monkeypatch.delenv("MOLGFN_DATA", raising=False)
    from molgfn import assets

    assets.set_data_dir(None)
    torch.set_num_threads(1)
    yield


def how_to_get(names) -> str:
    """The fix a skip names: the tests read only $MOLGFN_DATA (or ../shared/data), never the user cache."""
    return (f"run `molgfn data fetch {' '.join(names)}` (into ~/.cache/molgfn) and set MOLGFN_DATA to that folder, "
            "or to any folder that holds them")


def need_reference_data(*names: str) -> None:
    """At the top of a module that compares with published values (real data only): without the
    real assets the whole module is ONE skip naming them. Under MOLGFN_REQUIRE_ASSETS nothing is
    skipped, so a missing asset fails each test with the resolver's message."""
    from molgfn import assets

    if os.environ.get("MOLGFN_REQUIRE_ASSETS"):
        return
    def present(n: str) -> bool:  # in the folder the tests will use (never the user's cache)
        a = assets.get_asset(n)
        p = SHARED / a.file
        if p.is_file():
            return assets.sha256_of(p) == a.sha256
        return a.source.get("kind") == "derived" and present(a.source["from"])  # rebuilt from its parent

    missing = [n for n in names if not present(n)]
    if missing:
        module = sys._getframe(1).f_globals.get("__name__", "this module")  # the skip is reported at this line
        pytest.skip(f"{module}: published reference values need the real asset(s) {', '.join(missing)}: "
                    + how_to_get(missing), allow_module_level=True)


def need_assets(*names: str) -> None:
    from molgfn import assets

    for n in names:
        if assets.status(n)[0] != "ok":
            msg = f"asset {n!r} not available: {how_to_get([n])}"
            if os.environ.get("MOLGFN_REQUIRE_ASSETS"):  # CI: a skipped asset test would hide a gap
                pytest.fail(msg)
            pytest.skip(msg)


@pytest.fixture(scope="session")
def _synthetic_root(tmp_path_factory):
    from .synthetic import write_all

    root = tmp_path_factory.mktemp("synthetic-data")
    write_all(root)
    return root


@pytest.fixture
def synthetic_data(_synthetic_root, monkeypatch):
    """Synthetic assets (tests/synthetic.py) as the only data folder, accepted by a manifest
    whose checksums are theirs: the real resolution path runs, with files any machine has."""
    from molgfn import assets
    from molgfn.chem import blocks

    use_synthetic(monkeypatch, _synthetic_root)
    yield _synthetic_root
    assets.set_data_dir(None)
    blocks._load_cached.cache_clear()


def use_synthetic(mp: pytest.MonkeyPatch, root: Path) -> None:
    """Make the synthetic assets under ``root`` the only data folder, with their checksums."""
    from molgfn import assets
    from molgfn.chem import blocks

    from .synthetic import synthetic_manifest

    man = synthetic_manifest(root)
    mp.setattr(assets, "manifest", lambda: man)
    mp.setenv("MOLGFN_DATA", str(root))
    assets.set_data_dir(None)
    blocks._load_cached.cache_clear()


def real_or_synthetic(request, *names: str) -> str:
    """'real' when the named assets resolve (or MOLGFN_REQUIRE_ASSETS demands them); otherwise
    the synthetic assets stand in (the `synthetic_data` fixture) and 'synthetic' is returned.
    For tests of behaviour, which must hold on any data; published values stay real-only."""
    from molgfn import assets

    if os.environ.get("MOLGFN_REQUIRE_ASSETS") or all(assets.status(n)[0] == "ok" for n in names):
        need_assets(*names)
        return "real"
    request.getfixturevalue("synthetic_data")
    return "synthetic"


def frag_vocab_path(request) -> tuple[Path, str]:
    """The seh-frag block vocabulary file and its kind: the 105-block reference one ('real') when
    ../shared has it or MOLGFN_REQUIRE_ASSETS demands it, else the synthetic three-block one."""
    from molgfn import assets

    real = SHARED / assets.get_asset("seh-frag-blocks").file
    if real.exists():
        return real, "real"
    if os.environ.get("MOLGFN_REQUIRE_ASSETS"):  # CI with data: the real one from MOLGFN_DATA, or fail
        need_assets("seh-frag-blocks")
        return assets.resolve("seh-frag-blocks"), "real"
    return request.getfixturevalue("_synthetic_root") / assets.get_asset("seh-frag-blocks").file, "synthetic"

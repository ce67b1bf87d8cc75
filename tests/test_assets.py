import hashlib
import os
import pickle

import pytest

from molgfn import assets
from molgfn.errors import AssetMissingError, ChecksumError
from molgfn.safe_pickle import UnsafePickleError, safe_load


def _fake_asset(monkeypatch, payload: bytes, url: str):
    a = assets.Asset("toy", "toy/data.bin", hashlib.sha256(payload).hexdigest(), {"kind": "url", "url": url},
                     "CC0", "toy")
    monkeypatch.setattr(assets, "manifest", lambda: {"toy": a})
    return a


def test_fetch_verifies_and_resolves_from_cache(tmp_path, monkeypatch):
    src = tmp_path / "remote.bin"
    src.write_bytes(b"hello assets")
    _fake_asset(monkeypatch, b"hello assets", src.as_uri())
    monkeypatch.delenv("MOLGFN_DATA", raising=False)
    with pytest.raises(AssetMissingError, match="molgfn data fetch toy"):
        assets.resolve("toy")
    p = assets.fetch("toy")
    assert p.read_bytes() == b"hello assets" and p.is_relative_to(assets.cache_dir())
    assert assets.resolve("toy") == p


def test_fetch_refuses_wrong_bytes(tmp_path, monkeypatch):
    src = tmp_path / "remote.bin"
    src.write_bytes(b"tampered")
    _fake_asset(monkeypatch, b"original", src.as_uri())
    with pytest.raises(ChecksumError):
        assets.fetch("toy")
    assert not (assets.cache_dir() / "toy" / "data.bin").exists()


def test_search_order_and_import(tmp_path, monkeypatch):
    _fake_asset(monkeypatch, b"good", "file:///nonexistent")
    explicit, env = tmp_path / "explicit", tmp_path / "env"
    for d, content in ((explicit, b"good"), (env, b"good")):
        (d / "toy").mkdir(parents=True)
        (d / "toy" / "data.bin").write_bytes(content)
    monkeypatch.setenv("MOLGFN_DATA", str(env))
    assert assets.resolve("toy", data_dir=explicit) == explicit / "toy" / "data.bin"
    assert assets.resolve("toy") == env / "toy" / "data.bin"
    (env / "toy" / "data.bin").write_bytes(b"bad!")
    assets.set_data_dir(None)
    with pytest.raises(ChecksumError):
        assets.resolve("toy")
    monkeypatch.delenv("MOLGFN_DATA", raising=False)
    assert dict(assets.import_dir(explicit))["toy"].startswith("imported")
    assert assets.resolve("toy").read_bytes() == b"good"
    assert dict(assets.import_dir(env))["toy"].startswith("REFUSED")


def test_manifest_matches_reference_checksums():
    from .conftest import SHARED, how_to_get

    present = [a for a in assets.manifest().values() if (SHARED / a.file).is_file()]
    for a in present:
        assert assets.sha256_of(SHARED / a.file) == a.sha256, a.name
    missing = sorted(set(assets.manifest()) - {a.name for a in present})
    if missing:
        msg = (f"the manifest's checksums are checked against the reference data; missing: {', '.join(missing)}: "
               + how_to_get(missing))
        if os.environ.get("MOLGFN_REQUIRE_ASSETS"):
            pytest.fail(msg)
        pytest.skip(msg)


class Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_code(tmp_path):
    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(UnsafePickleError, match="posix.system|os.system"):
        safe_load(p)
    q = tmp_path / "ok.pkl"
    q.write_bytes(pickle.dumps({"modes": {"a", "b"}, "x": [1.5, (2, 3)]}))
    assert safe_load(q) == {"modes": {"a", "b"}, "x": [1.5, (2, 3)]}

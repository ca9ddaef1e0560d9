"""Bundled data files: hashes checked on load, deterministic gzip, licence files shipped."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import pytest

from studentprofile.datasets import _files, _oulad, _uci, load_oulad, load_uci_dropout
from studentprofile.errors import DataIntegrityError

# SHA-256 of the uncompressed CSVs as verified in PROVENANCE.md (the published files)
_ORIGINAL = """
8cc738fb88ad760571d6f2a23059bfee0ffcae3bcd830514c9cbd5c6d5a046f1  oulad/assessments.csv
4f16eee7454b15e109b0a21a0e43be820e6846ed6f9301bb7feb5ab5ad737a75  oulad/courses.csv
daf082159554173e0e2e84d0fa6b35e237bae2c18f733be3cfee88e4f9bc3f51  oulad/sample_studentVLE.csv
fd5320786328d05af841ee7dd4b5871b9dada3b9fe9d6a3642b2f42635510a6e  oulad/studentAssessment.csv
7e6f3e474a5eee00639d2a414a6c7e928745823c2d2c2563ca1780145f99b0d6  oulad/studentInfo.csv
0d32676285372aaf2e7a80304e5b274b4fba24313e2ca4c04317225e1ec90170  oulad/studentRegistration.csv
d1b28303dea802ad87b4484e1196e878e06824850b9a4fe8aa34693439fe87e9  oulad/vle.csv
3ef126de5cefff26eb11fbb4237f1a1401cb64b488e2f1d598c23cedeb4c45ae  uci_dropout/data.csv
"""
ORIGINAL_SHA256 = {
    tuple(path.split("/")): digest
    for digest, path in (line.split("  ") for line in _ORIGINAL.strip().splitlines())
}

DATA = Path(_files.__file__).parent / "data"


@pytest.fixture
def fresh_caches():
    """Clear the parse-once caches so a load really reads the (patched) files."""

    def clear() -> None:
        for fn in (_oulad._raw, _oulad._mapped, _uci._raw, _uci._mapped):
            fn.cache_clear()

    clear()
    yield
    clear()


@pytest.mark.parametrize(("dataset", "name"), sorted(ORIGINAL_SHA256))
def test_bundled_file_decompresses_to_the_published_csv(dataset, name):
    raw = _files.read_verified(dataset, name + ".gz")
    assert hashlib.sha256(gzip.decompress(raw)).hexdigest() == ORIGINAL_SHA256[(dataset, name)]
    # deterministic header: no file name flag, mtime 0, OS byte 255
    assert raw[:3] == b"\x1f\x8b\x08"
    assert raw[3] == 0  # FLG: no FNAME, no comment, no extra
    assert raw[4:8] == b"\x00\x00\x00\x00"
    assert raw[9] == 255


def test_gzip_deterministic_round_trips():
    payload = b"id;score\r\n1;78\r\n"
    packed = _files.gzip_deterministic(payload)
    assert gzip.decompress(packed) == payload
    assert packed == _files.gzip_deterministic(payload)


@pytest.mark.parametrize("dataset", ["oulad", "uci_dropout"])
def test_every_bundled_file_is_listed_and_licence_files_exist(dataset):
    folder = DATA / dataset
    listed = {line.split("  ")[1] for line in (folder / "SHA256SUMS").read_text().splitlines()}
    assert listed == {p.name for p in folder.glob("*.gz")}
    for name in ("LICENSE", "CITATION", "PROVENANCE.md"):
        assert (folder / name).stat().st_size > 100
    assert "CC BY 4.0" in (folder / "LICENSE").read_text()
    assert "creativecommons.org/licenses/by/4.0" in (folder / "LICENSE").read_text()
    assert "modification time 0" in (folder / "PROVENANCE.md").read_text()


def _patched_copy(tmp_path: Path, monkeypatch, dataset: str) -> Path:
    copy = tmp_path / dataset
    shutil.copytree(DATA / dataset, copy)
    monkeypatch.setattr(_files, "data_dir", lambda name: tmp_path / name)
    return copy


def test_tampered_file_raises_naming_the_file(tmp_path, monkeypatch, fresh_caches):
    copy = _patched_copy(tmp_path, monkeypatch, "oulad")
    target = copy / "studentAssessment.csv.gz"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(DataIntegrityError, match=r"studentAssessment\.csv\.gz does not match"):
        load_oulad()


def test_missing_file_raises_naming_the_file(tmp_path, monkeypatch, fresh_caches):
    copy = _patched_copy(tmp_path, monkeypatch, "uci_dropout")
    (copy / "data.csv.gz").unlink()
    with pytest.raises(DataIntegrityError, match=r"uci_dropout/data\.csv\.gz is missing"):
        load_uci_dropout()


def test_missing_checksums_and_unlisted_files_raise(tmp_path, monkeypatch, fresh_caches):
    copy = _patched_copy(tmp_path, monkeypatch, "oulad")
    with pytest.raises(DataIntegrityError, match=r"oulad/extra\.csv\.gz is not listed"):
        _files.read_verified("oulad", "extra.csv.gz")
    (copy / "SHA256SUMS").unlink()
    with pytest.raises(DataIntegrityError, match="has no SHA256SUMS"):
        _files.read_verified("oulad", "courses.csv.gz")

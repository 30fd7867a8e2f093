"""Folders, ZIP archives and uploads as lazily read (name, loader) pairs; what is passed over, and why."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from client import sources
from client.sources import Skipped, expand_sources, expand_uploads
from tests.support import zip_bytes


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "photos" / "sub").mkdir(parents=True)
    (tmp_path / "photos" / "b.jpg").write_bytes(b"B")
    (tmp_path / "photos" / "a.PNG").write_bytes(b"A")
    (tmp_path / "photos" / "manifest.csv").write_text("file,label\n")
    (tmp_path / "photos" / ".hidden.jpg").write_bytes(b"H")
    (tmp_path / "photos" / ".thumbs").mkdir()
    (tmp_path / "photos" / ".thumbs" / "t.jpg").write_bytes(b"T")
    (tmp_path / "photos" / "sub" / "c.jpeg").write_bytes(b"C")
    with zipfile.ZipFile(tmp_path / "photos" / "sub" / "more.zip", "w") as zf:
        zf.writestr("inner/d.jpg", b"D")
        zf.writestr("inner/notes.txt", b"x")
        zf.writestr("__MACOSX/inner/._d.jpg", b"junk")
    return tmp_path


def test_folder_walk_keeps_images_and_zip_members_in_order_and_lists_the_rest(tree: Path):
    skipped: list[Skipped] = []
    found = list(expand_sources([tree / "photos"], skipped=skipped))
    names = [name for name, _ in found]
    root = str(tree / "photos")
    assert names == [f"{root}/a.PNG", f"{root}/b.jpg", f"{root}/sub/c.jpeg", f"{root}/sub/more.zip/inner/d.jpg"]
    assert [load() for _, load in found] == [b"A", b"B", b"C", b"D"]
    assert skipped == [Skipped(f"{root}/.thumbs/", "hidden folder"), Skipped(f"{root}/.hidden.jpg", "hidden file"),
                       Skipped(f"{root}/manifest.csv", "not an image suffix: .csv"),
                       Skipped(f"{root}/sub/more.zip/__MACOSX/inner/._d.jpg", "macOS metadata"),
                       Skipped(f"{root}/sub/more.zip/inner/notes.txt", "not an image suffix: .txt")]


def test_zip_given_directly_and_explicit_files_are_kept(tree: Path):
    archive = tree / "photos" / "sub" / "more.zip"
    found = dict(expand_sources([archive, tree / "photos" / "manifest.csv"]))
    assert list(found) == [f"{archive}/inner/d.jpg", str(tree / "photos" / "manifest.csv")]
    assert found[f"{archive}/inner/d.jpg"]() == b"D"


def test_zip_is_read_lazily_without_extracting(tree: Path):
    archive = tree / "photos" / "sub" / "more.zip"
    before = sorted(p.name for p in tree.rglob("*"))
    (name, load), = expand_sources([archive])
    assert sorted(p.name for p in tree.rglob("*")) == before
    assert load() == b"D"


def test_missing_path_and_bad_zip_become_per_file_errors(tree: Path):
    (tree / "broken.zip").write_bytes(b"not a zip")
    found = list(expand_sources([tree / "nope.jpg", tree / "broken.zip"]))
    assert [name for name, _ in found] == [str(tree / "nope.jpg"), str(tree / "broken.zip")]
    with pytest.raises(FileNotFoundError, match="nope.jpg: no such file or folder"):
        found[0][1]()
    with pytest.raises(OSError, match="broken.zip: not a readable ZIP archive"):
        found[1][1]()


class Upload:
    """What Streamlit's UploadedFile offers: a name and getvalue()."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name, self.data, self.reads = name, data, 0

    def getvalue(self) -> bytes:
        self.reads += 1
        return self.data



def test_uploads_as_pairs_and_as_uploaded_files_keep_their_order():
    archive = zip_bytes({"cat/1.jpg": b"C1", "dog/2.png": b"D2", ".DS_Store": b"x"})
    skipped: list[Skipped] = []
    items = list(expand_uploads([("a.jpg", b"1"), Upload("batch.zip", archive), ("b.png", bytearray(b"2")),
                                 Upload("no-suffix", archive)], skipped=skipped))
    assert [(name, load()) for name, load in items] == [
        ("a.jpg", b"1"), ("batch.zip/cat/1.jpg", b"C1"), ("batch.zip/dog/2.png", b"D2"), ("b.png", b"2"),
        ("no-suffix/cat/1.jpg", b"C1"), ("no-suffix/dog/2.png", b"D2")]  # a ZIP by its PK magic, too
    assert skipped == [Skipped("batch.zip/.DS_Store", "hidden file"), Skipped("no-suffix/.DS_Store", "hidden file")]


def test_uploads_share_the_limits_and_error_texts_of_paths(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_FILE_BYTES", 10)
    archive = zip_bytes({"big.jpg": b"x" * 11, "ok.jpg": b"x" * 10})
    (tmp_path / "same.zip").write_bytes(archive)
    uploaded = dict(expand_uploads([("same.zip", archive), ("huge.png", b"y" * 11), ("broken.zip", b"PK\x03\x04 no")]))
    given = dict(expand_sources([tmp_path / "same.zip"]))
    for found, prefix in ((uploaded, "same.zip"), (given, str(tmp_path / "same.zip"))):
        assert found[f"{prefix}/ok.jpg"]() == b"x" * 10
        with pytest.raises(OSError, match=rf"^{prefix}/big.jpg: 11 bytes is over the 10 byte limit for one image$"):
            found[f"{prefix}/big.jpg"]()
    with pytest.raises(OSError, match=r"^huge.png: 11 bytes is over the 10 byte limit for one image$"):
        uploaded["huge.png"]()
    with pytest.raises(OSError, match=r"^broken.zip: not a readable ZIP archive \(File is not a zip file\)$"):
        uploaded["broken.zip"]()


def test_a_corrupt_zip_member_fails_alone_and_listing_reads_no_member_data(tmp_path: Path):
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("a.jpg", b"AAAAAAAA")
        zf.writestr("b.jpg", b"BBBBBBBB")
        zf.writestr("c.jpg", b"CCCCCCCC")
    archive.write_bytes(archive.read_bytes().replace(b"BBBBBBBB", b"BBBBxBBB"))  # b.jpg's CRC no longer matches
    found = list(expand_sources([archive]))  # listing only reads the central directory: no error yet
    assert [name for name, _ in found] == [f"{archive}/a.jpg", f"{archive}/b.jpg", f"{archive}/c.jpg"]
    assert found[0][1]() == b"AAAAAAAA"
    with pytest.raises(OSError, match=rf"^{archive}/b.jpg: unreadable ZIP member \(BadZipFile: Bad CRC-32"):
        found[1][1]()
    assert found[2][1]() == b"CCCCCCCC"


def test_archive_is_opened_once_for_all_its_members(tree: Path, monkeypatch):
    archive = tree / "many.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(50):
            zf.writestr(f"{i:02d}.jpg", bytes([i]))
    opened = []
    real = zipfile.ZipFile

    def counting(*args, **kwargs):
        opened.append(args[0])
        return real(*args, **kwargs)
    monkeypatch.setattr(zipfile, "ZipFile", counting)
    found = list(expand_sources([archive]))
    assert [load() for _, load in found] == [bytes([i]) for i in range(50)]
    assert len(opened) == 2  # once to list, once to read every member (~70 ms each for 20,000 members)
    assert [load() for _, load in found] == [bytes([i]) for i in range(50)]  # a second pass (thumbnails, then
    assert len(opened) == 3                                                  # requests) opens it once more


def test_files_and_members_over_the_size_limit_are_refused(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_FILE_BYTES", 10)
    (tmp_path / "big.jpg").write_bytes(b"x" * 11)
    (tmp_path / "small.jpg").write_bytes(b"x" * 10)
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.jpg", b"\0" * 1000)  # deflates to a few bytes
    found = dict(expand_sources([tmp_path / "big.jpg", tmp_path / "small.jpg", tmp_path / "bomb.zip"]))
    with pytest.raises(OSError, match=r"big.jpg: 11 bytes is over the 10 byte limit for one image"):
        found[str(tmp_path / "big.jpg")]()
    assert found[str(tmp_path / "small.jpg")]() == b"x" * 10
    with pytest.raises(OSError, match=r"bomb.zip/zeros.jpg: 1000 bytes is over the 10 byte limit"):
        found[f"{tmp_path / 'bomb.zip'}/zeros.jpg"]()


def test_missing_file_error_names_the_file(tmp_path: Path):
    load = sources.read_file(tmp_path / "gone.jpg")
    with pytest.raises(FileNotFoundError, match=rf"^{tmp_path / 'gone.jpg'}: No such file or directory$"):
        load()

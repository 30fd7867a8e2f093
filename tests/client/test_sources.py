"""Folders, ZIP archives and uploads as lazily read (name, loader) pairs."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from client.sources import expand_sources, from_uploads


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "photos" / "sub").mkdir(parents=True)
    (tmp_path / "photos" / "b.jpg").write_bytes(b"B")
    (tmp_path / "photos" / "a.PNG").write_bytes(b"A")
    (tmp_path / "photos" / "manifest.csv").write_text("file,label\n")
    (tmp_path / "photos" / ".hidden.jpg").write_bytes(b"H")
    (tmp_path / "photos" / "sub" / "c.jpeg").write_bytes(b"C")
    with zipfile.ZipFile(tmp_path / "photos" / "sub" / "more.zip", "w") as zf:
        zf.writestr("inner/d.jpg", b"D")
        zf.writestr("inner/notes.txt", b"x")
        zf.writestr("__MACOSX/inner/._d.jpg", b"junk")
    return tmp_path


def test_folder_walk_keeps_images_and_zip_members_in_order(tree: Path):
    found = list(expand_sources([tree / "photos"]))
    names = [name for name, _ in found]
    root = str(tree / "photos")
    assert names == [f"{root}/a.PNG", f"{root}/b.jpg", f"{root}/sub/c.jpeg", f"{root}/sub/more.zip/inner/d.jpg"]
    assert [load() for _, load in found] == [b"A", b"B", b"C", b"D"]


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


def test_uploads():
    items = list(from_uploads([("a.jpg", b"1"), ("b.png", bytearray(b"2"))]))
    assert [(name, load()) for name, load in items] == [("a.jpg", b"1"), ("b.png", b"2")]

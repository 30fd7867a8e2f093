"""Archives made at test time: ZIPs inside ZIPs, members passed over on purpose, odd and hostile names."""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from client import sources
from client.sources import Skipped, expand_sources, expand_uploads


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as zf:
        for name, data in members.items():
            if name.endswith("/"):
                zf.mkdir(name.rstrip("/"))
            else:
                zf.writestr(name, data)
    return buffer.getvalue()


def bad_utf8_name_zip() -> bytes:
    """A member flagged UTF-8 (bit 11) whose name bytes are not UTF-8: made by patching both headers."""
    data = zip_bytes({"café.jpg": b"C", "ok.jpg": b"K"})
    assert data.count("café".encode()) == 2  # local header and central directory
    return data.replace("café".encode(), b"caf\xff\xfe")


def test_a_zip_inside_a_zip_is_opened_and_a_third_level_is_a_row_naming_why(tmp_path: Path):
    level3 = zip_bytes({"deep.jpg": b"3"})
    level2 = zip_bytes({"b.jpg": b"2", "level3.zip": level3})
    (tmp_path / "outer.zip").write_bytes(zip_bytes({"a.jpg": b"1", "inner/level2.zip": level2},
                                                   compression=zipfile.ZIP_STORED))
    outer = str(tmp_path / "outer.zip")
    found = list(expand_sources([tmp_path / "outer.zip"]))
    assert [name for name, _ in found] == [f"{outer}/a.jpg", f"{outer}/inner/level2.zip/b.jpg",
                                           f"{outer}/inner/level2.zip/level3.zip"]
    assert found[0][1]() == b"1" and found[1][1]() == b"2"
    with pytest.raises(OSError, match=rf"^{outer}/inner/level2.zip/level3.zip: a ZIP archive nested more than 2 "
                                      r"deep; not opened"):
        found[2][1]()
    uploaded = dict(expand_uploads([("up.zip", zip_bytes({"level2.zip": level2}))]))
    assert uploaded["up.zip/level2.zip/b.jpg"]() == b"2" and "up.zip/level2.zip/level3.zip" in uploaded


def test_a_nested_zip_over_the_size_limit_or_broken_is_its_own_row(monkeypatch):
    monkeypatch.setattr(sources, "MAX_FILE_BYTES", 400)
    big = zip_bytes({"x.jpg": os.urandom(500)}, compression=zipfile.ZIP_STORED)
    found = dict(expand_uploads([("up.zip", zip_bytes({"big.zip": big, "junk.zip": b"not a zip", "a.jpg": b"A"}))]))
    assert found["up.zip/a.jpg"]() == b"A"
    with pytest.raises(OSError, match=r"^up.zip/big.zip: \d+ bytes is over the 400 byte limit for one image$"):
        found["up.zip/big.zip"]()
    with pytest.raises(OSError, match=r"^up.zip/junk.zip: not a readable ZIP archive \(File is not a zip file\)$"):
        found["up.zip/junk.zip"]()


def test_every_member_passed_over_is_listed_with_its_reason():
    archive = zip_bytes({
        "cat/": b"", "cat/1.jpg": b"1", ".DS_Store": b"x", "cat/.hidden.png": b"x", "__MACOSX/cat/._1.jpg": b"x",
        "../escape.jpg": b"x", "..\\windows.jpg": b"x", "notes.txt": b"x", "Makefile": b"x", "dog\\2.png": b"2"})
    skipped: list[Skipped] = []
    found = dict(expand_uploads([("a.zip", archive)], skipped=skipped))
    assert {name: load() for name, load in found.items()} == {"a.zip/cat/1.jpg": b"1", "a.zip/dog/2.png": b"2"}
    assert sorted(skipped, key=lambda s: s.name) == sorted([
        Skipped("a.zip/cat/", "folder"),
        Skipped("a.zip/.DS_Store", "hidden file"),
        Skipped("a.zip/cat/.hidden.png", "hidden file"),
        Skipped("a.zip/__MACOSX/cat/._1.jpg", "macOS metadata"),
        Skipped("a.zip/../escape.jpg", "path leaves the archive"),
        Skipped("a.zip/../windows.jpg", "path leaves the archive"),
        Skipped("a.zip/notes.txt", "not an image suffix: .txt"),
        Skipped("a.zip/Makefile", "no file suffix"),
    ], key=lambda s: s.name)


def test_an_absolute_member_is_read_under_its_base_name():
    found = dict(expand_uploads([("a.zip", zip_bytes({"/etc/passwd.jpg": b"P", "C:\\Users\\x\\y.png": b"Y"}))]))
    assert {name: load() for name, load in found.items()} == {"a.zip/passwd.jpg": b"P", "a.zip/y.png": b"Y"}


def test_nothing_is_written_to_disk_from_an_archive(tmp_path: Path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    (tmp_path / "in.zip").write_bytes(zip_bytes({
        "../escape.jpg": b"x", "/abs/evil.jpg": b"E", "a/b.jpg": b"B", "n.zip": zip_bytes({"../../up.jpg": b"U",
                                                                                           "c.jpg": b"C"})}))
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    found = list(expand_sources([tmp_path / "in.zip"])) + list(expand_uploads([("u.zip", (tmp_path / "in.zip")
                                                                               .read_bytes())]))
    assert sorted(load() for _, load in found) == [b"B", b"B", b"C", b"C", b"E", b"E"]
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before
    assert os.listdir(work) == []


def test_a_member_name_flagged_utf8_that_is_not_is_one_error_row_and_the_rest_go_on(tmp_path: Path):
    (tmp_path / "bad.zip").write_bytes(bad_utf8_name_zip())
    (tmp_path / "good.jpg").write_bytes(b"G")
    found = list(expand_sources([tmp_path / "bad.zip", tmp_path / "good.jpg"]))
    assert [name for name, _ in found] == [str(tmp_path / "bad.zip"), str(tmp_path / "good.jpg")]
    with pytest.raises(OSError, match=rf"^{tmp_path / 'bad.zip'}: not a readable ZIP archive \(a member name flagged "
                                      r"UTF-8 is not valid UTF-8: b'caf\\xff\\xfe.jpg'\)$"):
        found[0][1]()
    assert found[1][1]() == b"G"


def test_too_many_members_is_a_row_and_the_first_ones_are_kept(monkeypatch):
    monkeypatch.setattr(sources, "MAX_MEMBERS", 3)
    found = list(expand_uploads([("many.zip", zip_bytes({f"{i}.jpg": bytes([i]) for i in range(5)}))]))
    assert [name for name, _ in found] == ["many.zip", "many.zip/0.jpg", "many.zip/1.jpg", "many.zip/2.jpg"]
    with pytest.raises(OSError, match=r"^many.zip: 5 entries, over the limit of 3 per archive; only the first 3"):
        found[0][1]()


def test_listing_an_archive_inflates_no_member(monkeypatch):
    archive = zip_bytes({f"{i}.jpg": b"x" * 1000 for i in range(20)})
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def counting_open(self, name, *args, **kwargs):
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)
    monkeypatch.setattr(zipfile.ZipFile, "open", counting_open)
    found = list(expand_uploads([("a.zip", archive)]))
    assert len(found) == 20 and opened == []
    assert dict(found)["a.zip/7.jpg"]() == b"x" * 1000 and opened == ["7.jpg"]

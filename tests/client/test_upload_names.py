"""client.sources.expand_uploads on hostile upload names (issue 21): a NUL character makes that upload's error row
(named with \\x00, never read), the rest go on; a folder upload skips what a folder on disk skips."""
from __future__ import annotations

import pytest

from client.sources import Skipped, expand_uploads
from tests.client.conftest import png_bytes

PNG = png_bytes((250, 5, 5))


def test_a_name_with_a_nul_character_is_that_uploads_error_row_and_is_never_read():
    read: list[str] = []

    class Upload:
        def __init__(self, name):
            self.name = name

        def getvalue(self):
            read.append(self.name)
            return PNG

    items = list(expand_uploads([Upload("a\x00b.png"), Upload("ok.png")]))
    assert [name for name, _ in items] == ["a\\x00b.png", "ok.png"]
    with pytest.raises(OSError) as raised:
        items[0][1]()
    assert str(raised.value) == "a\\x00b.png: the file name contains a NUL character (shown as \\x00); not read"
    assert items[1][1]() == PNG and read == ["ok.png", "ok.png"]


def test_a_folder_upload_skips_hidden_and_non_image_files_with_their_reason():
    skipped: list[Skipped] = []
    uploads = [("pets/.DS_Store", b"x"), ("pets/notes.txt", b"x"), ("pets/cat/1.png", PNG), ("pets/README", b"x")]
    items = list(expand_uploads(uploads, skipped=skipped, folder=True))
    assert [name for name, _ in items] == ["pets/cat/1.png"]
    assert skipped == [Skipped("pets/.DS_Store", "hidden file"), Skipped("pets/notes.txt", "not an image suffix: .txt"),
                       Skipped("pets/README", "no file suffix")]


def test_files_picked_by_name_are_kept_whatever_their_suffix():
    skipped: list[Skipped] = []
    items = list(expand_uploads([("notes.txt", b"x"), ("cat.png", PNG)], skipped=skipped))
    assert [name for name, _ in items] == ["notes.txt", "cat.png"] and skipped == []

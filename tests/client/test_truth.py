"""Ground truth from folders, file names and truth files, matched to the model's classes."""
from __future__ import annotations

import json

import pytest

from client.truth import (TruthFileError, detect_truth, lookup, match_class, read_truth_file, truth_from_folder,
                          truth_from_name)

CLASSES = ["cat", "dog", "other"]


@pytest.mark.parametrize("value, expected", [
    ("cat", "cat"), ("Cats", "cat"), ("DOG", "dog"), ("dogs ", "dog"), ("Others", "other"), ("bird", None),
    ("", None), (None, None), ("s", None)])
def test_match_class(value, expected):
    assert match_class(value, CLASSES) == expected


def test_match_class_plural_forms_and_separators():
    classes = ["puppy", "box", "golden retriever", "glass"]
    assert [match_class(v, classes) for v in ["Puppies", "boxes", "Golden_Retrievers", "golden-retriever",
                                              "glasses", "glass"]] == [
        "puppy", "box", "golden retriever", "golden retriever", "glass", "glass"]


@pytest.mark.parametrize("source, folder, name", [
    ("x.zip/pets/dog/1.jpg", "dog", None), ("photos/cat/cat.4001.jpg", "cat", "cat"),
    ("x.zip/dog_12.png", None, "dog"), ("1.jpg", None, None), ("C:\\data\\Cats\\a.jpg", "Cats", "a"),
    ("/work/shared/images/other/IMG_3.JPG", "other", "IMG"), ("a.zip/b.zip/x.jpg", None, "x")])
def test_folder_and_name_readers(source, folder, name):
    assert truth_from_folder(source) == folder
    assert truth_from_name(source) == name


def test_auto_prefers_folders_and_says_so():
    sources = [f"b.zip/Cats/{i}.jpg" for i in range(20)] + [f"b.zip/dogs/{i}.jpg" for i in range(20)] + [
        f"b.zip/other/{i}.jpg" for i in range(20)] + ["b.zip/misc/x.jpg"]
    found = detect_truth(sources, CLASSES)
    assert found.method == "folders"
    assert found.summary == "ground truth from folder names: 3 classes, 60 of 61 images; 1 without a class: 'misc' (1)"
    assert found.truth["b.zip/Cats/3.jpg"] == "cat" and "b.zip/misc/x.jpg" not in found.truth
    assert found.unmatched == {"misc": 1}
    assert found.mapping == {"Cats": "cat", "dogs": "dog", "other": "other", "misc": None}
    assert found.raw["b.zip/misc/x.jpg"] == "misc"


def test_auto_falls_back_to_file_names_then_to_none():
    found = detect_truth(["train/cat.1.jpg", "train/dog.2.jpg", "train/IMG_1.jpg"], CLASSES)
    assert (found.method, found.truth) == ("names", {"train/cat.1.jpg": "cat", "train/dog.2.jpg": "dog"})
    assert found.summary == "ground truth from file names: 2 classes, 2 of 3 images; 1 without a class: 'IMG' (1)"
    nothing = detect_truth(["x/1.jpg", "x/2.jpg"], CLASSES)
    assert nothing.method == "none" and nothing.truth == {}
    assert nothing.summary == "no ground truth found: neither folder nor file names match the classes cat, dog, other"


def test_a_mapping_takes_unmatched_values_and_can_ignore_matched_ones():
    sources = ["p/kitty/1.jpg", "p/dog/2.jpg", "p/junk/3.jpg"]
    found = detect_truth(sources, CLASSES, method="folders", mapping={"kitty": "cat", "dog": None})
    assert found.truth == {"p/kitty/1.jpg": "cat"}
    assert found.unmatched == {"junk": 1} and found.mapping == {"kitty": "cat", "dog": None, "junk": None}
    with pytest.raises(ValueError, match=r"mapping names classes the model does not have: \{'kitty': 'lion'\}"):
        detect_truth(sources, CLASSES, mapping={"kitty": "lion"})


def test_csv_truth_file_matched_on_name_or_path_inside_the_archive():
    table = read_truth_file("truth.csv", b"\xef\xbb\xbfFile,Label,notes\ndog/2.png,Dogs,x\n2.png,cat,\n"
                                         b"c.jpg,other,\nunlabelled.jpg,,\n\n")
    assert table == {"dog/2.png": "Dogs", "2.png": "cat", "c.jpg": "other"}
    assert lookup("batch.zip/dog/2.png", table) == "Dogs"  # the longest ending wins
    assert lookup("batch.zip/cat/2.png", table) == "cat" and lookup("nope.jpg", table) is None
    found = detect_truth(["batch.zip/dog/2.png", "batch.zip/x/c.jpg", "batch.zip/y.jpg"], CLASSES,
                         truth_file=("truth.csv", b"source,label\ndog/2.png,Dogs\nc.jpg,other\n"))
    assert found.method == "file"
    assert found.truth == {"batch.zip/dog/2.png": "dog", "batch.zip/x/c.jpg": "other"}
    assert found.summary == "ground truth from truth.csv: 2 classes, 2 of 3 images"


def test_json_truth_files_as_object_and_list():
    assert read_truth_file("t.json", json.dumps({"a.jpg": "cat", "b.jpg": None}).encode()) == {"a.jpg": "cat"}
    assert read_truth_file("t.json", json.dumps([{"Source": "a.jpg", "class": "dog"}]).encode()) == {"a.jpg": "dog"}


@pytest.mark.parametrize("name, data, message", [
    ("t.csv", b"", r"^t.csv: the file is empty$"),
    ("t.csv", b"a,b\n1,2\n", r"^t.csv: the header needs a source column .* it has \['a', 'b'\]$"),
    ("t.csv", b"file,label\na.jpg,cat\na.jpg,dog\n", r"^t.csv: line 3: 'a.jpg' is labelled 'dog' here but 'cat' on "
                                                     r"line 2$"),
    ("t.csv", b"file,label,x\na.jpg\n", r"^t.csv: line 2: 1 fields, expected 3$"),
    ("t.csv", b"file,label\n\xff\n", r"^t.csv: not UTF-8 text"),
    ("t.json", b"{", r"^t.json: not valid JSON"),
    ("t.json", b"[1]", r"^t.json: item 1 is not an object"),
    ("t.json", b'[{"file": "a.jpg"}]', r"^t.json: item 1 needs a source key"),
    ("t.json", b'"x"', r"^t.json: expected a JSON object or list, got str$"),
])
def test_unreadable_truth_files_name_the_file_and_line(name, data, message):
    with pytest.raises(TruthFileError, match=message):
        read_truth_file(name, data)


def test_method_checks():
    with pytest.raises(ValueError, match="truth method must be one of"):
        detect_truth([], CLASSES, method="magic")
    with pytest.raises(ValueError, match="needs a truth file"):
        detect_truth(["a.jpg"], CLASSES, method="file")
    assert detect_truth(["cat/a.jpg"], CLASSES, method="none").summary == "ground truth not used"

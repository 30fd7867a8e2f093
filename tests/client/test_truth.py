"""Ground truth from folders, file names and truth files, matched to the model's classes."""
from __future__ import annotations

import json

import pytest

from client.truth import (MAX_TRUTH_BYTES, MAX_TRUTH_ROWS, TruthFileError, detect_truth, keyed_table, lookup,
                          match_class, read_truth_file, truth_from_folder, truth_from_name)

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


# -- hostile truth files (issue 21): deep nesting, non-text labels, size and row limits, formulas -----------------
DEEP = 10_000


@pytest.mark.parametrize("document", ["[" * DEEP + "]" * DEEP, '{"a": ' * DEEP + "1" + "}" * DEEP,
                                      '[{"file": "a.jpg", "label": ' + "[" * DEEP + "]" * DEEP + "}]"],
                         ids=["list", "object", "label"])
def test_a_json_truth_file_nested_ten_thousand_deep_is_that_files_error(document):
    with pytest.raises(TruthFileError) as raised:
        read_truth_file("deep.json", document.encode())
    assert str(raised.value) == ("deep.json: JSON nested too deep to read (a truth file is one object or one list of "
                                 "objects)")


@pytest.mark.parametrize("document, message", [
    ({"a.jpg": {"b": {"c": "cat"}}}, "deep.json: key 'a.jpg': the label is dict, not a class name"),
    ([{"file": "a.jpg", "label": ["cat"]}], "deep.json: item 1: the label is list, not a class name"),
    ({"a.jpg": True}, "deep.json: key 'a.jpg': the label is bool, not a class name"),
])
def test_a_label_that_is_not_text_is_refused(document, message):
    with pytest.raises(TruthFileError) as raised:
        read_truth_file("deep.json", json.dumps(document).encode())
    assert str(raised.value) == message


def test_a_label_given_as_a_number_is_its_text():
    assert read_truth_file("t.json", b'{"a.jpg": 3, "b.jpg": 1.5}') == {"a.jpg": "3", "b.jpg": "1.5"}


def test_a_truth_file_over_the_size_limit_is_refused_before_it_is_parsed(monkeypatch):
    import client.truth as truth

    def never(*args):
        raise AssertionError("parsed")

    monkeypatch.setattr(truth, "_read_csv", never)
    data = b"file,label\n" + b"x" * MAX_TRUTH_BYTES
    with pytest.raises(TruthFileError) as raised:
        read_truth_file("big.csv", data)
    assert str(raised.value) == (f"big.csv: {len(data):,} bytes, over the limit of 5,242,880 bytes (5 MiB) for a "
                                 "truth file")
    assert MAX_TRUTH_BYTES == 5 * 1024 * 1024


@pytest.mark.slow
def test_a_truth_file_over_the_row_limit_is_refused():
    rows = b"".join(b"%d,cat\n" % i for i in range(MAX_TRUTH_ROWS + 1))
    assert len(rows) < MAX_TRUTH_BYTES
    with pytest.raises(TruthFileError) as raised:
        read_truth_file("many.csv", b"file,label\n" + rows)
    assert str(raised.value) == "many.csv: over the limit of 200,000 entries for a truth file"
    document = json.dumps({str(i): "cat" for i in range(MAX_TRUTH_ROWS + 1)}).encode()
    with pytest.raises(TruthFileError) as raised:
        read_truth_file("many.json", document)
    assert str(raised.value) == "many.json: 200,001 entries, over the limit of 200,000 for a truth file"
    assert len(read_truth_file("enough.csv", b"file,label\n" + rows[rows.index(b"\n") + 1:])) == MAX_TRUTH_ROWS


def test_formula_cells_are_unmatched_values():
    data = ('file,label\na.jpg,"=HYPERLINK(""http://x"",""y"")"\nb.jpg,@SUM(1+1)\nc.jpg,+dog\nd.jpg,-1+1\n'
            "e.jpg,'=1+1\n").encode()
    table = read_truth_file("truth.csv", data)
    assert table == {"a.jpg": '=HYPERLINK("http://x","y")', "b.jpg": "@SUM(1+1)", "c.jpg": "+dog", "d.jpg": "-1+1",
                     "e.jpg": "=1+1"}   # an apostrophe client.schema put in front of a formula is taken off
    found = detect_truth([f"{name}.jpg" for name in "abcde"], CLASSES, truth_file=table)
    assert found.truth == {} and found.unmatched == {value: 1 for value in table.values()}


def test_a_keyed_table_is_looked_up_as_it_is():
    table = read_truth_file("t.csv", b"file,label\n./dog\\2.png,dog\n")
    keyed = keyed_table(table)
    assert dict(keyed) == {"dog/2.png": "dog"} and keyed_table(keyed) is keyed
    assert detect_truth(["x.zip/dog/2.png"], CLASSES, truth_file=keyed).truth == {"x.zip/dog/2.png": "dog"}


@pytest.mark.parametrize("name, data, message", [
    ("deep.json", ("[" * DEEP + "]" * DEEP).encode(),
     "JSON nested too deep to read (a truth file is one object or one list of objects)"),
    ("big.csv", b"file,label\n" + b"x" * MAX_TRUTH_BYTES,
     f"{MAX_TRUTH_BYTES + 11:,} bytes, over the limit of 5,242,880 bytes (5 MiB) for a truth file")],
    ids=["nested", "too-big"])
def test_the_cli_refuses_such_a_truth_file_naming_it_before_any_request(tmp_path, capsys, unreachable_url, name, data,
                                                                        message):
    from client.cli import EXIT_USAGE, main
    path = tmp_path / name
    path.write_bytes(data)
    (tmp_path / "cat.png").write_bytes(b"not read")
    assert main(["classify", str(tmp_path / "cat.png"), "--truth", str(path), "--url", unreachable_url]) == EXIT_USAGE
    assert capsys.readouterr().err == f"error: --truth {path}: {message}\n"

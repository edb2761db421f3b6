"""C-CM and RealOcc-Wild: image + binary mask layouts (fixtures), and unpaired files."""
from __future__ import annotations

import pathlib

import pytest

from lponet_tf.data import read_dataset
from lponet_tf.errors import DataError
from reader_fixtures import write_image


def _names(records):
    return [(pathlib.Path(r.image_path).name, pathlib.Path(r.mask_path).name) for r in records]


@pytest.mark.parametrize("name", ["ccm", "realocc_wild"])
def test_parallel_folders(tmp_path, name):
    for stem in ("a", "b"):
        write_image(tmp_path / "images" / f"{stem}.jpg")
        write_image(tmp_path / "masks" / f"{stem}.png")
    records = read_dataset(name, tmp_path)
    assert _names(records) == [("a.jpg", "a.png"), ("b.jpg", "b.png")]
    assert all(r.dataset == name and r.landmarks is None and r.pose is None and r.box is None
               for r in records)


def test_numeric_stems_match_by_value_and_folder_names_vary(tmp_path):
    # CelebAMask-HQ style: images 0.jpg .. N.jpg, masks zero-padded
    for i in (0, 7, 12):
        write_image(tmp_path / "Img" / f"{i}.jpg")
        write_image(tmp_path / "Label" / f"{i:05d}.png")
    assert _names(read_dataset("ccm", tmp_path)) == [
        ("0.jpg", "00000.png"), ("12.jpg", "00012.png"), ("7.jpg", "00007.png")]


def test_side_by_side_pairs(tmp_path):
    write_image(tmp_path / "face1.jpg")
    write_image(tmp_path / "face1_mask.png")
    write_image(tmp_path / "face2.png")
    write_image(tmp_path / "face2_seg.png")
    assert _names(read_dataset("realocc_wild", tmp_path)) == [
        ("face1.jpg", "face1_mask.png"), ("face2.png", "face2_seg.png")]


def test_split_subfolders(tmp_path):
    for split, stems in (("train", ("a", "b", "c")), ("test", ("d",))):
        for stem in stems:
            write_image(tmp_path / split / "img" / f"{stem}.jpg")
            write_image(tmp_path / split / "mask" / f"{stem}.png")
    assert len(read_dataset("ccm", tmp_path, split="train")) == 3
    test = read_dataset("ccm", tmp_path, split="test")
    assert len(test) == 1 and test[0].attributes["split"] == "test"
    assert sorted(r.attributes["split"] for r in read_dataset("ccm", tmp_path)) == ["test"] + ["train"] * 3
    with pytest.raises(DataError, match="split folder 'val' not found"):
        read_dataset("ccm", tmp_path, split="val")


def test_mask_without_image(tmp_path):
    write_image(tmp_path / "images" / "a.jpg")
    write_image(tmp_path / "masks" / "a.png")
    orphan = write_image(tmp_path / "masks" / "b.png")
    with pytest.raises(DataError) as err:
        read_dataset("ccm", tmp_path)
    assert err.value.path == str(orphan) and "missing image" in str(err.value)


def test_image_without_mask(tmp_path):
    write_image(tmp_path / "images" / "a.jpg")
    lonely = write_image(tmp_path / "images" / "b.jpg")
    write_image(tmp_path / "masks" / "a.png")
    with pytest.raises(DataError) as err:
        read_dataset("realocc_wild", tmp_path)
    assert err.value.path == str(lonely) and "no mask" in str(err.value)
    (tmp_path / "images" / "b.jpg").unlink()
    write_image(tmp_path / "side" / "x.jpg")
    write_image(tmp_path / "side" / "x_mask.png")
    lonely = write_image(tmp_path / "side" / "y.jpg")
    with pytest.raises(DataError) as err:
        read_dataset("realocc_wild", tmp_path / "side")
    assert err.value.path == str(lonely)


def test_side_by_side_mask_without_image(tmp_path):
    orphan = write_image(tmp_path / "x_mask.png")
    with pytest.raises(DataError) as err:
        read_dataset("ccm", tmp_path)
    assert err.value.path == str(orphan) and "missing image" in str(err.value)


def test_no_layout(tmp_path):
    write_image(tmp_path / "just_an_image.jpg")
    with pytest.raises(DataError, match="no ccm image \\+ mask pairs"):
        read_dataset("ccm", tmp_path)


def test_real_cofw_masks_are_binary(formats_dir):
    """The binary-mask semantics these readers assume (0 / 255) hold on the real COFW masks."""
    import cv2
    import numpy as np

    masks = sorted((formats_dir / "cofw_masks").glob("*.png"))
    assert len(masks) == 20
    for path in masks:
        m = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert m.ndim == 2 and set(np.unique(m).tolist()) == {0, 255}


@pytest.mark.parametrize("files, message", [
    (["images/12.jpg", "images/012.jpg", "masks/12.png"], "012.jpg and 12.jpg"),
    (["images/a.jpg", "images/a.png", "masks/a.png"], "a.jpg and a.png"),
    (["images/a.jpg", "masks/a.png", "masks/a_mask.png"], "a.png and a_mask.png"),
])
def test_two_files_of_one_face_are_refused_not_one_dropped(tmp_path, files, message):
    for f in files:
        write_image(tmp_path / f)
    with pytest.raises(DataError, match=message):
        read_dataset("ccm", tmp_path)


def test_ambiguous_layouts_are_refused(tmp_path):
    for d in ("img", "images"):                                 # which one holds the images?
        write_image(tmp_path / "two" / d / "a.jpg")
    write_image(tmp_path / "two" / "masks" / "a.png")
    with pytest.raises(DataError, match=r"ambiguous layout: folders \['images', 'img'\]"):
        read_dataset("ccm", tmp_path / "two")
    write_image(tmp_path / "mixed" / "face1.jpg")               # pairs beside a split folder
    write_image(tmp_path / "mixed" / "face1_mask.png")
    write_image(tmp_path / "mixed" / "train" / "images" / "b.jpg")
    write_image(tmp_path / "mixed" / "train" / "masks" / "b.png")
    with pytest.raises(DataError, match=r"sub-folders with more \(\['train'\]\)"):
        read_dataset("ccm", tmp_path / "mixed")
    assert len(read_dataset("ccm", tmp_path / "mixed", split="train")) == 1


def test_a_stem_of_non_ascii_digits_is_a_name_not_a_number(tmp_path):
    write_image(tmp_path / "images" / "\u00b2.jpg")             # "²".isdigit() is True
    write_image(tmp_path / "masks" / "\u00b2.png")
    assert _names(read_dataset("ccm", tmp_path)) == [("\u00b2.jpg", "\u00b2.png")]

"""COFW: the COFW-68 labels and masks (real samples), the v7.3 (HDF5) .mat files (fixtures
written here the way MATLAB lays them out), the 29-point cross-check, bad data."""
from __future__ import annotations

import json
import pathlib

import cv2
import h5py
import numpy as np
import pytest
import scipy.io

from lponet_tf.data import read_dataset
from lponet_tf.data.landmark_sets import COFW29_NAMES, COFW29_TO_68
from lponet_tf.data.matfile import load_mat
from lponet_tf.data.readers.cofw import read_cofw68, read_cofw68_boxes, read_cofw68_points
from lponet_tf.errors import DataError


# ------------------------------------------------------------------------------ fixtures
def write_mat_v73(path, variables: dict) -> pathlib.Path:
    """Write a MATLAB v7.3 file: HDF5 behind a 512-byte MATLAB header, every array stored
    with its dimensions reversed (column-major), cell arrays as object references kept in
    ``#refs#``. ``variables`` values are numpy arrays in MATLAB order, or lists (cells)."""
    path = pathlib.Path(path)
    with h5py.File(path, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        for name, value in variables.items():
            if isinstance(value, list):
                targets = []
                for i, item in enumerate(value):
                    d = refs.create_dataset(f"{name}_{i}", data=np.ascontiguousarray(np.asarray(item).T))
                    d.attrs["MATLAB_class"] = np.bytes_(str(np.asarray(item).dtype))
                    targets.append(d.ref)
                cell = f.create_dataset(name, data=np.array(targets, dtype=h5py.ref_dtype).reshape(1, -1))
                cell.attrs["MATLAB_class"] = np.bytes_("cell")
            else:
                d = f.create_dataset(name, data=np.ascontiguousarray(np.asarray(value).T))
                d.attrs["MATLAB_class"] = np.bytes_("double")
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    with open(path, "r+b") as f:
        f.write(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM")
    return path


def _images(n, seed=0):
    rng = np.random.default_rng(seed)
    # mixed colour and grey images of different sizes, as in COFW
    return [rng.integers(0, 256, (5 + i % 3, 7 + i % 2, 3) if i % 4 else (6, 4), dtype=np.uint8)
            for i in range(n)]


def _phis(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.hstack([rng.uniform(0, 300, (n, 58)), rng.integers(0, 2, (n, 29))]).astype(np.float64)


def _boxes(n):
    return np.array([[10 + i, 20, 100, 120] for i in range(n)], np.float64)


def write_cofw_root(root, n_train=12, n_test=5, color=True):
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    suffix = "_color" if color else ""
    data = {}
    for part, n, keys, seed in (("train", n_train, ("IsTr", "phisTr", "bboxesTr"), 0),
                                ("test", n_test, ("IsT", "phisT", "bboxesT"), 1)):
        if n is None:
            continue
        images, phis, boxes = _images(n, seed), _phis(n, seed), _boxes(n)
        write_mat_v73(root / f"COFW_{part}{suffix}.mat", dict(zip(keys, (images, phis, boxes))))
        data[part] = (images, phis, boxes)
    return data


# ------------------------------------------------------------------------------ v7.3 files
def test_fixture_is_a_v73_file_scipy_refuses(tmp_path):
    path = write_mat_v73(tmp_path / "a.mat", {"x": np.arange(6.0).reshape(2, 3)})
    with pytest.raises(NotImplementedError):
        scipy.io.loadmat(path)
    np.testing.assert_array_equal(load_mat(path)["x"], np.arange(6.0).reshape(2, 3))


def test_cofw_reader_on_v73_files(tmp_path):
    data = write_cofw_root(tmp_path)
    records = read_dataset("cofw", tmp_path)
    assert [r.attributes["split"] for r in records] == ["train"] * 12 + ["test"] * 5
    for r in records:
        images, phis, boxes = data[r.attributes["split"]]
        i = r.attributes["index"]
        np.testing.assert_allclose(r.attributes["landmarks_29"][:, 0], phis[i - 1, :29], atol=1e-3)
        np.testing.assert_allclose(r.attributes["landmarks_29"][:, 1], phis[i - 1, 29:58], atol=1e-3)
        np.testing.assert_array_equal(r.attributes["occluded_29"], phis[i - 1, 58:] == 1)
        x, y, w, h = boxes[i - 1]
        np.testing.assert_allclose(r.box, [x, y, x + w, y + h])
        # extracted image == the array stored in the .mat (RGB there, BGR on disk)
        disk = cv2.imread(r.image_path, cv2.IMREAD_UNCHANGED)
        expected = images[i - 1] if images[i - 1].ndim == 2 else images[i - 1][..., ::-1]
        np.testing.assert_array_equal(disk, expected)
        assert r.landmarks is None and r.mask_path is None and r.dataset == "cofw"


def test_cofw_extracted_images_are_reused_for_their_own_mat_only(tmp_path):
    write_cofw_root(tmp_path / "a", n_test=None)
    first = read_dataset("cofw", tmp_path / "a", split="train", extract_dir=tmp_path / "cache")
    stamp = pathlib.Path(first[0].image_path).stat().st_mtime_ns
    again = read_dataset("cofw", tmp_path / "a", split="train", extract_dir=tmp_path / "cache")
    assert [r.image_path for r in again] == [r.image_path for r in first]
    assert pathlib.Path(again[0].image_path).stat().st_mtime_ns == stamp     # not extracted again
    # another copy of COFW (other images) with the same extract_dir: its own images, not a's
    (tmp_path / "b").mkdir()
    write_mat_v73(tmp_path / "b" / "COFW_train_color.mat",
                  {"IsTr": _images(12, seed=7), "phisTr": _phis(12), "bboxesTr": _boxes(12)})
    other = read_dataset("cofw", tmp_path / "b", split="train", extract_dir=tmp_path / "cache")
    for r, image in zip(other, _images(12, seed=7)):
        disk = cv2.imread(r.image_path, cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(disk, image if image.ndim == 2 else image[..., ::-1])


def test_cofw_never_replaces_images_it_did_not_write(tmp_path):
    """An extract_dir pointed at the user's own 0001.png, 0002.png (no stamp): refused,
    naming the folder, with the files untouched (they used to be deleted and replaced)."""
    write_cofw_root(tmp_path / "data", n_test=None)
    mine = tmp_path / "photos" / "train"
    mine.mkdir(parents=True)
    before = {}
    for name in ("0001.png", "0002.png"):
        cv2.imwrite(str(mine / name), np.full((9, 9, 3), 77, np.uint8))
        before[name] = (mine / name).read_bytes()
    with pytest.raises(DataError) as err:
        read_dataset("cofw", tmp_path / "data", split="train", extract_dir=tmp_path / "photos")
    assert err.value.path == str(mine)
    assert "holds images this reader did not write (0001.png, 0002.png" in str(err.value)
    assert {n: (mine / n).read_bytes() for n in before} == before
    assert sorted(p.name for p in mine.iterdir()) == ["0001.png", "0002.png"]


def test_cofw_an_interrupted_extraction_is_still_its_own(tmp_path, monkeypatch):
    """The stamp is written when extraction starts, so a run stopped half-way is resumed
    (and another .mat's images in a stamped folder are replaced), never refused."""
    from lponet_tf.data.readers import cofw

    write_cofw_root(tmp_path / "data", n_test=None)
    real = cofw._extract

    def stop_at_5(images, out_dir, index, mat_path):
        if index == 5:
            raise KeyboardInterrupt
        return real(images, out_dir, index, mat_path)

    monkeypatch.setattr(cofw, "_extract", stop_at_5)
    with pytest.raises(KeyboardInterrupt):
        read_dataset("cofw", tmp_path / "data", split="train", extract_dir=tmp_path / "cache")
    stamp = tmp_path / "cache" / "train" / cofw.SOURCE_STAMP
    assert stamp.read_text().startswith("extracting: ")
    monkeypatch.undo()
    records = read_dataset("cofw", tmp_path / "data", split="train", extract_dir=tmp_path / "cache")
    assert len(records) == 12 and all(pathlib.Path(r.image_path).is_file() for r in records)
    assert not stamp.read_text().startswith("extracting: ")


def test_cofw_a_box_with_no_area_is_refused_naming_the_file_and_row(tmp_path):
    """COFW train faces have no landmarks: the crop comes from the box, and an inverted one
    failed later in the crop with a ValueError naming no file."""
    boxes = _boxes(3)
    boxes[1, 2] = -40.0  # width < 0
    path = write_mat_v73(tmp_path / "COFW_test_color.mat",
                         {"IsT": _images(3), "phisT": _phis(3), "bboxesT": boxes})
    with pytest.raises(DataError) as err:
        read_dataset("cofw", tmp_path, split="test")
    assert err.value.path == str(path)
    assert "'bboxesT' row 2 (x, y, width, height) has no area" in str(err.value)
    assert not (tmp_path / "images_test").exists()  # refused before any image is written


def test_cofw_extract_dir_and_grey_files(tmp_path):
    write_cofw_root(tmp_path / "data", n_train=None, color=False)
    records = read_dataset("cofw", tmp_path / "data", extract_dir=tmp_path / "cache")
    assert len(records) == 5
    assert all(pathlib.Path(r.image_path).parent == tmp_path / "cache" / "test" for r in records)


# ------------------------------------------------------------------------------ real labels
def test_cofw68_real_annotations_match_loadmat(formats_dir):
    folder = formats_dir / "cofw68"
    labels = read_cofw68(folder)
    assert sorted(labels) == list(range(1, 508))
    for index in (1, 250, 507):
        raw = scipy.io.loadmat(folder / "test_annotations" / f"{index}_points.mat")
        points, occluded = labels[index]
        np.testing.assert_array_equal(points, raw["Points"])
        np.testing.assert_array_equal(occluded, raw["Occ"].reshape(-1) == 1)


def test_cofw68_real_boxes(formats_dir):
    boxes = read_cofw68_boxes(formats_dir / "cofw68" / "cofw68_test_bboxes.mat")
    raw = scipy.io.loadmat(formats_dir / "cofw68" / "cofw68_test_bboxes.mat")["bboxes"]
    assert boxes.shape == (507, 4)
    np.testing.assert_array_equal(boxes[:, :2], raw[:, :2])
    np.testing.assert_array_equal(boxes[:, 2:], raw[:, :2] + raw[:, 2:])
    # the boxes hold their faces: box 1 contains most of face 1's points
    points, _ = read_cofw68_points(formats_dir / "cofw68" / "test_annotations" / "1_points.mat")
    x0, y0, x1, y1 = boxes[0]
    inside = (points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)
    assert inside.mean() > 0.8


def test_cofw68_agrees_with_original_29_points(formats_dir):
    """mmpose's COFW test JSON holds the original 29 points of COFW test images 421 and 460
    (ids 1345 + index). The points COFW29_TO_68 pairs coincide with the COFW-68 points."""
    assert len(COFW29_NAMES) == 29
    coco = json.loads((formats_dir / "mmpose" / "cofw" / "test_cofw.json").read_text())
    labels = read_cofw68(formats_dir / "cofw68")
    i29, i68 = np.array(list(COFW29_TO_68.keys())), np.array(list(COFW29_TO_68.values()))
    for ann in coco["annotations"]:
        p29 = np.array(ann["keypoints"]).reshape(29, 3)[:, :2]
        p68, _ = labels[ann["image_id"] - 1345]
        iod = np.linalg.norm(p68[36] - p68[45])
        paired = np.linalg.norm(p29[i29] - p68[i68], axis=1) / iod
        assert np.median(paired) < 0.05 and paired.max() < 0.12
        shuffled = np.linalg.norm(p29[i29] - p68[np.roll(i68, 3)], axis=1) / iod
        assert np.median(shuffled) > 0.2


def test_cofw_test_split_with_real_cofw68_and_masks(tmp_path, formats_dir):
    data = write_cofw_root(tmp_path, n_train=12, n_test=25)
    (tmp_path / "cofw68").symlink_to(formats_dir / "cofw68")
    (tmp_path / "masks").symlink_to(formats_dir / "cofw_masks")
    test = read_dataset("cofw", tmp_path, split="test")
    assert len(test) == 25
    for r in test:
        raw = scipy.io.loadmat(formats_dir / "cofw68" / "test_annotations" / f"{r.attributes['index']}_points.mat")
        np.testing.assert_allclose(r.landmarks, raw["Points"], atol=1e-4)
        np.testing.assert_array_equal(r.attributes["occluded_68"], raw["Occ"].reshape(-1) == 1)
    train = read_dataset("cofw", tmp_path, split="train")
    with_mask = {r.attributes["index"]: r.mask_path for r in train if r.mask_path}
    assert set(with_mask) == {1, 10, 11}  # mask_1, mask_10, mask_11 exist among 1..12
    mask = cv2.imread(with_mask[10], cv2.IMREAD_UNCHANGED)
    assert mask.ndim == 2 and set(np.unique(mask).tolist()) <= {0, 255}
    assert all(r.landmarks is None for r in train)
    assert data["test"][1].shape == (25, 87)


# ------------------------------------------------------------------------------ bad data
def test_cofw_missing_files(tmp_path):
    with pytest.raises(DataError, match="COFW train file not found"):
        read_dataset("cofw", tmp_path, split="train")
    with pytest.raises(DataError, match="cofw dataset root not found"):
        read_dataset("cofw", tmp_path / "nope")
    with pytest.raises(DataError, match="unknown cofw split"):
        read_dataset("cofw", tmp_path, split="val")


def test_cofw_wrong_label_shapes(tmp_path):
    write_mat_v73(tmp_path / "COFW_test_color.mat",
                  {"IsT": _images(3), "phisT": _phis(3)[:, :80], "bboxesT": _boxes(3)})
    with pytest.raises(DataError, match="N x 87"):
        read_dataset("cofw", tmp_path, split="test")
    write_mat_v73(tmp_path / "COFW_test_color.mat",
                  {"IsT": _images(2), "phisT": _phis(3), "bboxesT": _boxes(3)})
    with pytest.raises(DataError, match="holds 2 images"):
        read_dataset("cofw", tmp_path, split="test")
    write_mat_v73(tmp_path / "COFW_test_color.mat", {"IsT": _images(3), "phisT": _phis(3)})
    with pytest.raises(DataError, match="missing variable 'bboxesT'"):
        read_dataset("cofw", tmp_path, split="test")


def test_cofw_non_uint8_image(tmp_path):
    images = _images(2)
    images[1] = images[1].astype(np.float64)
    write_mat_v73(tmp_path / "COFW_test_color.mat", {"IsT": images, "phisT": _phis(2), "bboxesT": _boxes(2)})
    with pytest.raises(DataError, match="image 2 is not an 8-bit"):
        read_dataset("cofw", tmp_path, split="test")


def test_cofw_corrupt_hdf5(tmp_path):
    path = write_mat_v73(tmp_path / "COFW_test_color.mat",
                         {"IsT": _images(3), "phisT": _phis(3), "bboxesT": _boxes(3)})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError) as err:
        read_dataset("cofw", tmp_path, split="test")
    assert err.value.path == str(path) and "unreadable .mat" in str(err.value)


def test_cofw_unwritable_extract_dir(tmp_path):
    write_cofw_root(tmp_path, n_train=None)
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(DataError, match="extract_dir"):
        read_dataset("cofw", tmp_path, extract_dir=tmp_path / "file")


def test_cofw68_bad_files(tmp_path):
    (tmp_path / "test_annotations").mkdir()
    scipy.io.savemat(tmp_path / "test_annotations" / "1_points.mat",
                     {"Points": np.zeros((29, 2)), "Occ": np.zeros((1, 29))})
    with pytest.raises(DataError, match="should hold 68 points"):
        read_cofw68(tmp_path)
    scipy.io.savemat(tmp_path / "test_annotations" / "1_points.mat", {"Points": np.random.default_rng(0).uniform(0, 100, (68, 2))})
    with pytest.raises(DataError, match="missing variable 'Occ'"):
        read_cofw68(tmp_path)
    with pytest.raises(DataError, match="no test_annotations"):
        read_cofw68(tmp_path / "test_annotations")


# ------------------------------------------------------------------------------ mask edits
def test_cofw_mask_edits_relabel_beard_and_lens(tmp_path, formats_dir):
    """The paper's COFW edits (beard -> face, see-through lens -> not face) from an edit map
    next to the real mask: the record points at the edited copy, the original is untouched."""
    write_cofw_root(tmp_path, n_train=12, n_test=None)
    (tmp_path / "masks").symlink_to(formats_dir / "cofw_masks")
    original = cv2.imread(str(formats_dir / "cofw_masks" / "mask_10.png"), cv2.IMREAD_GRAYSCALE)
    h, w = original.shape
    edits = np.zeros((h, w), np.uint8)
    # A beard is "not face" in the original, a lens "face": windows around such pixels.
    (by, bx), (ly, lx) = (np.argwhere(original == v)[len(np.argwhere(original == v)) // 2] for v in (0, 255))
    beard = (slice(max(0, by - 10), by + 10), slice(max(0, bx - 15), bx + 15))
    lens = (slice(max(0, ly - 5), ly + 5), slice(max(0, lx - 12), lx + 12))
    edits[beard], edits[lens] = 1, 2
    (tmp_path / "mask_edits").mkdir()
    cv2.imwrite(str(tmp_path / "mask_edits" / "mask_10.png"), edits)
    stamp = (formats_dir / "cofw_masks" / "mask_10.png").stat().st_mtime_ns

    records = {r.attributes["index"]: r for r in read_dataset("cofw", tmp_path, split="train")}
    edited_rec = records[10]
    assert edited_rec.attributes["mask_edited"] is True
    assert pathlib.Path(edited_rec.attributes["mask_original"]).name == "mask_10.png"
    edited = cv2.imread(edited_rec.mask_path, cv2.IMREAD_GRAYSCALE)
    assert (edited[beard] == 255).all() and (edited[lens] == 0).all()
    keep = edits == 0
    np.testing.assert_array_equal(edited[keep], np.where(original[keep] > 0, 255, 0))
    assert (original[beard] == 0).any() and (original[lens] == 255).any()  # the edit changed something
    assert (formats_dir / "cofw_masks" / "mask_10.png").stat().st_mtime_ns == stamp
    assert "mask_edited" not in records[1].attributes  # no edit map: the original mask
    assert pathlib.Path(records[1].mask_path).parent.name == "masks"
    # Read again: the edited copy is reused, not rewritten.
    written = pathlib.Path(edited_rec.mask_path).stat().st_mtime_ns
    read_dataset("cofw", tmp_path, split="train")
    assert pathlib.Path(edited_rec.mask_path).stat().st_mtime_ns == written


def test_cofw_bad_edit_maps_name_the_file(tmp_path, formats_dir):
    write_cofw_root(tmp_path, n_train=12, n_test=None)
    (tmp_path / "masks").symlink_to(formats_dir / "cofw_masks")
    (tmp_path / "mask_edits").mkdir()
    cv2.imwrite(str(tmp_path / "mask_edits" / "mask_1.png"), np.full((5, 5), 2, np.uint8))
    with pytest.raises(DataError, match="mask_1.png.*edit map is"):
        read_dataset("cofw", tmp_path, split="train")
    h, w = cv2.imread(str(formats_dir / "cofw_masks" / "mask_1.png"), cv2.IMREAD_GRAYSCALE).shape
    cv2.imwrite(str(tmp_path / "mask_edits" / "mask_1.png"), np.full((h, w), 255, np.uint8))
    with pytest.raises(DataError, match="values must be 0"):
        read_dataset("cofw", tmp_path, split="train")

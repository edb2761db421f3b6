"""300W / Masked 300W readers and the .pts format: real samples, fixture layouts, bad data."""
from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from lponet_tf.data import read_dataset
from lponet_tf.data.pts import read_pts, write_pts
from lponet_tf.errors import DataError
from reader_fixtures import PNG_1x1, face_points, write_pair


def _raw_pts_numbers(path) -> np.ndarray:
    """The numbers between the braces, parsed here without the library."""
    text = pathlib.Path(path).read_text()
    body = text[text.index("{") + 1:text.index("}")]
    return np.array(body.split(), dtype=np.float64).reshape(-1, 2)


# ----------------------------------------------------------------------------- .pts format
@pytest.mark.parametrize("sub", ["lfpw", "menpo", "mmpose/300vw/001/annot", "mmpose/300vw/401/annot"])
def test_read_pts_real_samples_match_raw_numbers(formats_dir, sub):
    files = sorted((formats_dir / sub).glob("*.pts"))
    assert files
    for path in files:
        pts = read_pts(path, expected_points=68)
        assert pts.shape == (68, 2)
        np.testing.assert_array_equal(pts, _raw_pts_numbers(path))


def test_read_pts_agrees_with_mmpose_coco_json_for_300vw(formats_dir):
    root = formats_dir / "mmpose" / "300vw"
    coco = json.loads((root / "anno_300vw.json").read_text())
    names = {im["id"]: im["file_name"] for im in coco["images"]}
    assert coco["annotations"]
    for ann in coco["annotations"]:
        seq, _, frame = names[ann["image_id"]].split("/")
        pts = read_pts(root / seq / "annot" / frame.replace(".jpg", ".pts"))
        keypoints = np.array(ann["keypoints"]).reshape(-1, 3)[:, :2]
        np.testing.assert_allclose(pts, keypoints, atol=1e-9)


def test_write_pts_round_trip(tmp_path):
    points = np.random.default_rng(0).uniform(0, 500, (68, 2))
    write_pts(tmp_path / "a.pts", points)
    np.testing.assert_allclose(read_pts(tmp_path / "a.pts", expected_points=68), points, atol=5e-7)
    assert _raw_pts_numbers(tmp_path / "a.pts").shape == (68, 2)


def test_write_pts_rejects_bad_shape(tmp_path):
    with pytest.raises(ValueError):
        write_pts(tmp_path / "a.pts", np.zeros((68, 3)))


@pytest.mark.parametrize("text, line, fragment", [
    ("version: 1\nn_points: 2\n{\n1 2\n3 x\n}\n", 5, "not a number"),
    ("version: 1\nn_points: 2\n{\n1 2\n3 4 5\n}\n", 5, "expected 'x y'"),
    ("version: 1\nn_points: 3\n{\n1 2\n3 4\n}\n", 6, "n_points is 3 but 2"),
    ("version: 1\nn_points: 2\n{\n1 2\n3 4\n", 5, "no '}'"),
    ("version: 1\nn_points: two\n{\n}\n", 2, "not an integer"),
    ("version: 1\n1 2\n", 2, "header"),
])
def test_read_pts_malformed_names_file_and_line(tmp_path, text, line, fragment):
    path = tmp_path / "bad.pts"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        read_pts(path)
    assert err.value.path == str(path) and err.value.line == line
    assert fragment in str(err.value) and f"bad.pts:{line}" in str(err.value)


def test_read_pts_without_header_or_brace(tmp_path):
    (tmp_path / "a.pts").write_text("version: 1\n{\n1 2\n}\n")
    with pytest.raises(DataError, match="n_points"):
        read_pts(tmp_path / "a.pts")
    (tmp_path / "b.pts").write_text("n_points: 1\n")
    with pytest.raises(DataError, match="'{'"):
        read_pts(tmp_path / "b.pts")


def test_read_pts_wrong_point_count(tmp_path):
    write_pts(tmp_path / "a.pts", np.zeros((5, 2)))
    with pytest.raises(DataError, match="expected 68 points, found 5"):
        read_pts(tmp_path / "a.pts", expected_points=68)


def test_read_pts_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_pts(tmp_path / "none.pts")


# ----------------------------------------------------------------------------- 300W reader
def test_300w_reads_every_real_face(faces_300w):
    records = read_dataset("300w", faces_300w)
    assert len(records) == 1207  # afw 337 + helen_trainset 870 (data README)
    by_folder = {}
    for r in records:
        by_folder.setdefault(pathlib.Path(r.image_path).parent.name, []).append(r)
    assert {k: len(v) for k, v in by_folder.items()} == {"afw": 337, "helen_trainset": 870}
    # afw/ and helen_trainset/ (helen/trainset as one name) hold 300W training faces
    assert all(r.attributes["subset"] == "train" and r.attributes["source"] == "afw"
               for r in by_folder["afw"])
    assert all(r.attributes["subset"] == "train" and r.attributes["source"] == "helen"
               for r in by_folder["helen_trainset"])
    assert len(read_dataset("300w", faces_300w, split="train")) == 1207
    for r in records[::97]:
        pts_path = pathlib.Path(r.image_path).with_suffix(".pts")
        np.testing.assert_allclose(r.landmarks, _raw_pts_numbers(pts_path), atol=1e-4)
        assert r.landmarks.dtype == np.float32 and r.pose is None and r.mask_path is None
        assert r.dataset == "300w"


def test_300w_plain_folder_of_pairs(faces_300w):
    records = read_dataset("300w", faces_300w / "afw")
    assert len(records) == 337
    assert all(pathlib.Path(r.image_path).suffix == ".jpg" for r in records)


def test_300w_other_image_extensions(formats_dir):
    menpo = read_dataset("300w", formats_dir / "menpo")
    assert sorted(pathlib.Path(r.image_path).name for r in menpo) == [
        "breakingbad.jpg", "einstein.jpg", "takeo.ppm"]
    lfpw = read_dataset("300w", formats_dir / "lfpw")
    assert [pathlib.Path(r.image_path).name for r in lfpw] == ["image_0010.png"]
    np.testing.assert_allclose(lfpw[0].landmarks[0], [611.284152, 272.773913], atol=1e-4)


def test_300w_point_order_agrees_with_300w_lp_coco_json(formats_dir, faces_300w):
    """mmpose's 300W-LP JSON has AFW_134212_{1,2}_0, re-fitted views of 300W afw/134212_{1,2}.

    Their 68 points agree with ours up to a similarity (crop and resize) and the 3DDFA
    re-fit of the contour; a wrong point order would be off by about half a face.
    """
    coco = json.loads((formats_dir / "mmpose" / "300wlp" / "test_300wlp.json").read_text())
    names = {im["id"]: im["file_name"] for im in coco["images"]}
    ours = {pathlib.Path(r.image_path).name: r for r in read_dataset("300w", faces_300w / "afw")}
    for ann in coco["annotations"]:
        theirs = np.array(ann["keypoints"]).reshape(-1, 3)[:, :2]
        mine = ours[names[ann["image_id"]].replace("AFW_", "").replace("_0.jpg", ".jpg")].landmarks
        iod = np.linalg.norm(theirs[36] - theirs[45])
        assert _similarity_residual(mine, theirs) / iod < 0.08
        assert _similarity_residual(mine[::-1], theirs) / iod > 0.3


def _similarity_residual(src, dst) -> float:
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    s, d = src - src.mean(0), dst - dst.mean(0)
    a = (s * d).sum() / (s * s).sum()
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / (s * s).sum()
    fitted = s @ np.array([[a, -b], [b, a]]).T
    return float(np.linalg.norm(fitted - d, axis=1).mean())


# Official layout: (folder, subset, faces written).
_OFFICIAL = [
    ("afw", "train", 3), ("helen/trainset", "train", 2), ("lfpw/trainset", "train", 2),
    ("helen/testset", "common", 2), ("lfpw/testset", "common", 1), ("ibug", "challenge", 2),
]


@pytest.fixture()
def official_300w(tmp_path):
    root = tmp_path / "300W"
    for folder, _, count in _OFFICIAL:
        for i in range(count):
            write_pair(root / folder, f"{folder.replace('/', '_')}_{i}", face_points(i))
    return root


@pytest.mark.parametrize("split, expected", [
    ("train", 7), ("common", 3), ("challenge", 2), ("full", 5), ("test", 5), (None, 12)])
def test_300w_official_layout_splits(official_300w, split, expected):
    records = read_dataset("300w", official_300w, split=split)
    assert len(records) == expected
    if split in ("train", "common", "challenge"):
        assert {r.attributes["subset"] for r in records} == {split}
    sources = {pathlib.Path(r.image_path).parent.name: r.attributes["source"] for r in records}
    for folder, source in sources.items():
        assert source in ("afw", "helen", "lfpw", "ibug")
        assert source in folder or folder.endswith("set")


def test_300w_official_layout_under_images_folder_and_upper_case(tmp_path):
    write_pair(tmp_path / "images" / "LFPW" / "testset", "image_0001", face_points(0))
    write_pair(tmp_path / "images" / "IBUG", "image_003_1", face_points(1))
    assert len(read_dataset("300w", tmp_path, split="common")) == 1
    challenge = read_dataset("300w", tmp_path, split="challenge")
    assert [r.attributes["source"] for r in challenge] == ["ibug"]


def test_300w_landmarks_are_the_file_values(official_300w):
    for r in read_dataset("300w", official_300w, split="challenge"):
        expected = _raw_pts_numbers(r.attributes["annotation_path"])
        np.testing.assert_allclose(r.landmarks, expected, atol=1e-4)


def test_masked_300w(official_300w):
    records = read_dataset("masked_300w", official_300w, split="full")
    assert len(records) == 5
    assert all(r.dataset == "masked_300w" and r.attributes["masked"] for r in records)


def test_300w_split_on_plain_folder_is_an_error(faces_300w):
    with pytest.raises(DataError, match="official 300W layout"):
        read_dataset("300w", faces_300w / "helen_trainset", split="train")


def test_300w_unknown_split(official_300w):
    with pytest.raises(DataError, match="unknown 300w split"):
        read_dataset("300w", official_300w, split="private")


def test_300w_missing_image_names_the_pts(tmp_path):
    write_pts(tmp_path / "lonely.pts", face_points(0))
    with pytest.raises(DataError) as err:
        read_dataset("300w", tmp_path)
    assert err.value.path == str(tmp_path / "lonely.pts") and "missing image" in str(err.value)


def test_300w_wrong_point_count(tmp_path):
    write_pair(tmp_path, "face", np.zeros((5, 2)))
    with pytest.raises(DataError, match="expected 68 points"):
        read_dataset("300w", tmp_path)


def test_300w_malformed_pts_inside_dataset(tmp_path):
    write_pair(tmp_path, "face", face_points(0))
    (tmp_path / "face.pts").write_text("version: 1\nn_points: 68\n{\n1 2\noops\n}\n")
    with pytest.raises(DataError) as err:
        read_dataset("300w", tmp_path)
    assert err.value.line == 5


def test_300w_empty_folder(tmp_path):
    with pytest.raises(DataError, match="no 300w faces"):
        read_dataset("300w", tmp_path)


def test_png_fixture_is_a_decodable_image(tmp_path):
    import cv2

    (tmp_path / "x.png").write_bytes(PNG_1x1)
    assert cv2.imread(str(tmp_path / "x.png")).shape == (1, 1, 3)


def test_two_images_or_two_label_files_of_one_face_are_refused(tmp_path):
    write_pair(tmp_path / "both", "face", face_points(0))        # face.jpg ...
    write_pair(tmp_path / "both", "face", face_points(0), ".png")  # ... and face.png
    with pytest.raises(DataError, match="ambiguous image: face.jpg, face.png"):
        read_dataset("300w", tmp_path / "both")
    pts = write_pair(tmp_path / "twice", "face", face_points(0))
    upper = pts.with_name("face.PTS")
    upper.write_bytes(pts.read_bytes())
    if not upper.samefile(pts):                                  # a case-sensitive file system
        with pytest.raises(DataError, match="label the same image"):
            read_dataset("300w", tmp_path / "twice")


def test_a_byte_order_mark_and_non_utf8_text(tmp_path):
    pts = write_pair(tmp_path, "face", face_points(0))
    text = pts.read_text()
    pts.write_text("\ufeff" + text.split("\n", 1)[1], encoding="utf-8")   # BOM, no version line
    np.testing.assert_allclose(read_pts(pts), face_points(0), atol=1e-3)
    pts.write_text(text, encoding="utf-16")
    with pytest.raises(DataError, match=r"face\.pts: cannot read \.pts file: not UTF-8 text"):
        read_pts(pts)


@pytest.mark.parametrize("how", ["zeros", "eyes"])
def test_a_placeholder_face_is_refused_not_scored_as_infinite_error(tmp_path, how):
    points = np.zeros((68, 2)) if how == "zeros" else face_points(0)
    if how == "eyes":
        points[45] = points[36]
    pts = write_pair(tmp_path, "face", points)
    message = "no extent" if how == "zeros" else "outer eye corners"
    with pytest.raises(DataError, match=message) as err:
        read_dataset("300w", tmp_path)
    assert err.value.path == str(pts)


def test_a_split_refuses_faces_outside_the_official_folders(tmp_path):
    write_pair(tmp_path / "afw", "a", face_points(0))
    write_pair(tmp_path / "helen_extra", "b", face_points(1))      # not an official folder
    assert len(read_dataset("300w", tmp_path)) == 2
    with pytest.raises(DataError, match=r"split 'train': 1 faces are in none of the official "
                                        r"300W folders \(helen_extra\)"):
        read_dataset("300w", tmp_path, split="train")


def test_a_labelled_image_turned_by_its_exif_orientation_is_named_in_a_warning(tmp_path, faces_300w):
    import warnings

    from PIL import Image

    from lponet_tf.data.sample import read_record_image
    from lponet_tf.errors import DataWarning

    source = sorted((faces_300w / "afw").glob("*.jpg"))[0]
    upright = read_record_image(str(source))
    with Image.open(source) as im:
        exif = im.getexif()
        exif[0x0112] = 6                                       # "rotate 90 CW to display"
        im.save(tmp_path / "turned.jpg", exif=exif.tobytes(), quality=95)
    with pytest.warns(DataWarning, match=r"turned\.jpg: EXIF orientation 6"):
        turned = read_record_image(str(tmp_path / "turned.jpg"))
    assert turned.shape == (upright.shape[1], upright.shape[0], 3)   # shown upright
    assert np.abs(np.rot90(upright, -1).astype(int) - turned).mean() < 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_record_image(str(source))                         # no tag: no warning


@pytest.mark.parametrize("body, line, fragment", [
    ("n_points: 2\n{\n1_000 2\n3 4\n}\n", 3, "not a number"),           # float() takes it
    ("n_points: 2\n{\n\uff11 2\n3 4\n}\n", 3, "not a number"),          # a full-width digit
    ("n_points: 2\nn_points: 3\n{\n1 2\n3 4\n}\n", 2, "a second 'n_points:' line"),
    ("n_points: 2\n{\n1 2\n3 4\n}\n5 6\n", 6, "text after the closing '}'"),
])
def test_read_pts_refuses_what_float_would_silently_take(tmp_path, body, line, fragment):
    path = tmp_path / "odd.pts"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(DataError, match=fragment) as err:
        read_pts(path)
    assert err.value.line == line


def test_read_pts_still_reads_exponents_signs_and_leading_dots(tmp_path):
    path = tmp_path / "ok.pts"
    path.write_text("version: 1\nn_points: 3\n{\n-1.5e2 +2\n.5 3.\n1E-1 0\n}\n\n")
    np.testing.assert_allclose(read_pts(path), [[-150, 2], [0.5, 3], [0.1, 0]])


def test_flattened_official_folder_names_keep_their_subsets(tmp_path):
    for i, name in enumerate(("helen_testset", "LFPW-TrainSet", "lfpw_testset", "ibug")):
        write_pair(tmp_path / name, f"f{i}", face_points(i))
    subsets = {pathlib.Path(r.image_path).parent.name: (r.attributes["source"], r.attributes["subset"])
               for r in read_dataset("300w", tmp_path)}
    assert subsets == {"helen_testset": ("helen", "common"), "LFPW-TrainSet": ("lfpw", "train"),
                       "lfpw_testset": ("lfpw", "common"), "ibug": ("ibug", "challenge")}
    assert len(read_dataset("300w", tmp_path, split="full")) == 3


def test_pts_origin_reads_the_files_as_one_based(faces_300w):
    stored = read_dataset("300w", faces_300w / "afw")[:5]
    shifted = read_dataset("300w", faces_300w / "afw", pts_origin=1)[:5]
    for a, b in zip(stored, shifted):
        assert a.image_path == b.image_path
        np.testing.assert_allclose(b.landmarks, _raw_pts_numbers(a.attributes["annotation_path"]) - 1,
                                   atol=1e-4)
    for bad in (2, -1, 0.5, True):
        with pytest.raises(DataError, match="pts_origin must be 0"):
            read_dataset("300w", faces_300w / "afw", pts_origin=bad)

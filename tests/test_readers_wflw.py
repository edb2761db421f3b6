"""WFLW: the 98 -> 68 mapping, the list_98pt_rect_attr_*.txt reader (fixture files in the
exact format, filled with the real WFLW keypoints of formats/mmpose/wflw), bad lines."""
from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from lponet_tf.data import read_dataset
from lponet_tf.data.landmark_sets import WFLW98_TO_68, wflw98_to_68
from lponet_tf.data.pseudo_pose import mean_face, pseudo_pose
from lponet_tf.errors import DataError
from reader_fixtures import write_image

# Mirror permutations written out here, independently of the library (mirrored[i] = p[FLIP[i]]).
FLIP_98 = np.array(
    list(range(32, -1, -1))                                   # contour
    + [46, 45, 44, 43, 42, 50, 49, 48, 47]                    # brow 33-41 <- other brow
    + [37, 36, 35, 34, 33, 41, 40, 39, 38]                    # brow 42-50
    + [51, 52, 53, 54] + [59, 58, 57, 56, 55]                 # nose
    + [72, 71, 70, 69, 68, 75, 74, 73]                        # eye 60-67 <- other eye
    + [64, 63, 62, 61, 60, 67, 66, 65]                        # eye 68-75
    + [82, 81, 80, 79, 78, 77, 76, 87, 86, 85, 84, 83]        # outer lip
    + [92, 91, 90, 89, 88, 95, 94, 93]                        # inner lip
    + [97, 96])                                               # pupils
FLIP_68 = np.array(
    list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30] + [35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46] + [39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48] + [59, 58, 57, 56, 55] + [64, 63, 62, 61, 60] + [67, 66, 65])


# ------------------------------------------------------------------------------ mapping
def test_mapping_shape_and_uniqueness():
    assert WFLW98_TO_68.shape == (68,)
    assert len(set(WFLW98_TO_68.tolist())) == 68 and WFLW98_TO_68.max() < 96  # no pupils


def test_mapping_exact_parts():
    np.testing.assert_array_equal(WFLW98_TO_68[:17], np.arange(0, 33, 2))       # jaw subsampled
    assert WFLW98_TO_68[0] == 0 and WFLW98_TO_68[8] == 16 and WFLW98_TO_68[16] == 32
    np.testing.assert_array_equal(WFLW98_TO_68[27:36], np.arange(51, 60))       # nose
    np.testing.assert_array_equal(WFLW98_TO_68[48:68], np.arange(76, 96))       # mouth
    # eye corners map exactly: iBUG 36/39/42/45 = WFLW 60/64/68/72
    assert WFLW98_TO_68[[36, 39, 42, 45]].tolist() == [60, 64, 68, 72]
    np.testing.assert_array_equal(WFLW98_TO_68[36:48], [60, 61, 63, 64, 65, 67, 68, 69, 71, 72, 73, 75])


#: The published WFLW-98 -> iBUG-68 correspondence, written out index by index (iBUG i takes
#: WFLW PUBLISHED_98_FOR_68[i]): the DLIB_68_TO_WFLW_98_IDX_MAPPING table released with the
#: AdaptiveWingLoss code (Wang, Bo, Fuxin, ICCV 2019) and reused by most WFLW -> 300W
#: converters. Brows take the UPPER edge (WFLW 33-37, 42-46), eyes skip the lid middles.
PUBLISHED_98_FOR_68 = [
    0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32,  # iBUG 0-16 jaw
    33, 34, 35, 36, 37,                                             # 17-21 right brow
    42, 43, 44, 45, 46,                                             # 22-26 left brow
    51, 52, 53, 54,                                                 # 27-30 nose bridge
    55, 56, 57, 58, 59,                                             # 31-35 nose base
    60, 61, 63, 64, 65, 67,                                         # 36-41 right eye
    68, 69, 71, 72, 73, 75,                                         # 42-47 left eye
    76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87,                 # 48-59 outer lip
    88, 89, 90, 91, 92, 93, 94, 95,                                 # 60-67 inner lip
]


@pytest.mark.parametrize("ibug", range(68))
def test_mapping_matches_the_published_correspondence(ibug):
    assert len(PUBLISHED_98_FOR_68) == 68
    assert WFLW98_TO_68[ibug] == PUBLISHED_98_FOR_68[ibug], f"iBUG {ibug}"


def test_real_brows_convert_to_their_upper_edge(formats_dir):
    """On the real WFLW faces the converted brow points lie farther from their eye than
    WFLW's lower brow edge (38-41, 47-50) does: the upper edge, as iBUG marks brows (measured:
    4-8% of the eye-corner distance farther; a brow drawn on the lower edge would be ~0)."""
    faces = _wflw_coco(formats_dir)
    assert len(faces) == 4
    for _, p98, _ in faces:
        p68 = wflw98_to_68(p98)
        iod = np.linalg.norm(p68[36] - p68[45])
        for brow68, lower98, eye68 in ((slice(17, 22), slice(38, 42), slice(36, 42)),
                                       (slice(22, 27), slice(47, 51), slice(42, 48))):
            eye = p68[eye68].mean(0)
            upper = np.linalg.norm(p68[brow68][1:4] - eye, axis=1).mean()  # the three middles
            lower = np.linalg.norm(p98[lower98] - eye, axis=1).mean()
            assert upper - lower > 0.02 * iod, (upper, lower, iod)


def test_mapping_commutes_with_the_mirror():
    # converting a mirrored WFLW face == mirroring the converted face
    np.testing.assert_array_equal(FLIP_98[WFLW98_TO_68], WFLW98_TO_68[FLIP_68])
    assert sorted(FLIP_98.tolist()) == list(range(98)) and sorted(FLIP_68.tolist()) == list(range(68))


def test_wflw98_to_68_indexes_points_and_batches():
    p = np.random.default_rng(0).normal(size=(3, 98, 2))
    out = wflw98_to_68(p)
    assert out.shape == (3, 68, 2)
    np.testing.assert_array_equal(out[1, 36], p[1, 60])
    with pytest.raises(ValueError):
        wflw98_to_68(np.zeros((68, 2)))


def _wflw_coco(formats_dir):
    coco = json.loads((formats_dir / "mmpose" / "wflw" / "test_wflw.json").read_text())
    names = {im["id"]: im["file_name"] for im in coco["images"]}
    return [(names[a["image_id"]], np.array(a["keypoints"]).reshape(-1, 3)[:, :2], a["bbox"])
            for a in coco["annotations"]]


def _similarity_residual(src, dst) -> float:
    s, d = src - src.mean(0), dst - dst.mean(0)
    a = (s * d).sum() / (s * s).sum()
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / (s * s).sum()
    return float(np.linalg.norm(s @ np.array([[a, -b], [b, a]]).T - d, axis=1).mean())


def test_real_wflw_faces_convert_to_a_68_point_face(formats_dir):
    """The converted real faces fit the 3D mean face seen at their PnP pose to <12% of the
    eye-corner distance; 68 WFLW points picked at random fit at ~55%."""
    rng = np.random.default_rng(0)
    faces = _wflw_coco(formats_dir)
    assert len(faces) == 4
    for _, p98, _ in faces:
        p68 = wflw98_to_68(p98)
        iod = np.linalg.norm(p68[36] - p68[45])
        model = (mean_face() @ pseudo_pose(p68, (1024, 1024)).T)[:, :2]
        assert _similarity_residual(model, p68) / iod < 0.12
        assert _similarity_residual(model, p98[rng.permutation(98)[:68]]) / iod > 0.3


# ------------------------------------------------------------------------------ reader
def _line(points98, box, flags, rel) -> str:
    """One list_98pt_rect_attr line: 196 coords, 4 box ints, 6 flags, path."""
    coords = " ".join(f"{v:.6f}" for v in np.asarray(points98).reshape(-1))
    return f"{coords} {' '.join(str(int(b)) for b in box)} {' '.join(str(f) for f in flags)} {rel}"


@pytest.fixture()
def wflw_root(tmp_path, formats_dir):
    """Official layout; the lines carry the real WFLW keypoints and boxes."""
    root = tmp_path / "WFLW"
    ann = root / "WFLW_annotations" / "list_98pt_rect_attr_train_test"
    ann.mkdir(parents=True)
    faces = _wflw_coco(formats_dir)
    lines = {"train": [], "test": []}
    # illumination and make-up differ on one line, so their columns cannot pass swapped
    flags = [(0, 0, 0, 0, 0, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0, 0, 0, 1), (0, 0, 1, 1, 1, 0)]
    for i, (name, p98, (x, y, w, h)) in enumerate(faces):
        rel = f"{i}--Event/{name}"
        write_image(root / "WFLW_images" / rel)
        lines["train" if i == 0 else "test"].append(_line(p98, (x, y, x + w, y + h), flags[i], rel))
    for part, content in lines.items():
        # a blank line between faces and CRLF endings are tolerated
        (ann / f"list_98pt_rect_attr_{part}.txt").write_text("\r\n\r\n".join(content) + "\r\n")
    return root, faces, flags


def _raw_line_numbers(text: str) -> np.ndarray:
    return np.array(text.split()[:206], dtype=np.float64)


def test_wflw_reader_values_against_raw_lines(wflw_root):
    root, faces, flags = wflw_root
    records = read_dataset("wflw", root)
    assert len(records) == 4 and [r.attributes["split"] for r in records] == ["train"] + ["test"] * 3
    ann = root / "WFLW_annotations" / "list_98pt_rect_attr_train_test"
    raw_lines = [l for part in ("train", "test")
                 for l in (ann / f"list_98pt_rect_attr_{part}.txt").read_text().splitlines() if l.strip()]
    for r, text, f in zip(records, raw_lines, flags):
        numbers = _raw_line_numbers(text)
        p98 = numbers[:196].reshape(98, 2)
        np.testing.assert_allclose(r.attributes["landmarks_98"], p98, atol=1e-4)
        np.testing.assert_allclose(r.landmarks[36], p98[60], atol=1e-4)
        np.testing.assert_allclose(r.landmarks[:17], p98[0:33:2], atol=1e-4)
        np.testing.assert_allclose(r.box, numbers[196:200])
        assert tuple(r.attributes[k] for k in
                     ("pose", "expression", "illumination", "makeup", "occlusion", "blur")) == f
        assert pathlib.Path(r.image_path).is_file() and r.pose is None and r.dataset == "wflw"


@pytest.mark.parametrize("split, expected", [
    ("train", 1), ("test", 3), ("pose", 1), ("occlusion", 2), ("blur", 1), ("makeup", 1), ("illumination", 2), (None, 4)])
def test_wflw_splits(wflw_root, split, expected):
    root, _, _ = wflw_root
    records = read_dataset("wflw", root, split=split)
    assert len(records) == expected
    if split not in (None, "train", "test"):
        assert all(r.attributes[split] == 1 and r.attributes["split"] == "test" for r in records)


def test_wflw_annotation_in_root_and_images_beside_it(tmp_path, formats_dir):
    _, p98, _ = _wflw_coco(formats_dir)[0]
    write_image(tmp_path / "a" / "face.jpg")
    (tmp_path / "list_98pt_rect_attr_test.txt").write_text(_line(p98, (1, 2, 3, 4), (0,) * 6, "a/face.jpg"))
    records = read_dataset("wflw", tmp_path, split="test")
    assert len(records) == 1 and records[0].image_path == str(tmp_path / "a" / "face.jpg")


def _bad_file(tmp_path, formats_dir, text_for_second_line):
    _, p98, _ = _wflw_coco(formats_dir)[0]
    write_image(tmp_path / "WFLW_images" / "e" / "f.jpg")
    good = _line(p98, (1, 2, 3, 4), (0,) * 6, "e/f.jpg")
    path = tmp_path / "list_98pt_rect_attr_train.txt"
    path.write_text(good + "\n" + text_for_second_line(good) + "\n")
    return path


@pytest.mark.parametrize("mutate, fragment", [
    (lambda good: " ".join(good.split()[:150]), "got 150 fields"),
    (lambda good: good.replace(good.split()[10], "abc", 1), "not a number: 'abc'"),
    (lambda good: " ".join(good.split()[:200] + ["2"] + good.split()[201:]), "must be 0 or 1"),
    (lambda good: " ".join(good.split()[:-1] + ["e/missing.jpg"]), "missing image 'e/missing.jpg'"),
    (lambda good: good.replace(good.split()[3], "nan", 1), "non-finite"),
])
def test_wflw_bad_line_names_file_and_line(tmp_path, formats_dir, mutate, fragment):
    path = _bad_file(tmp_path, formats_dir, mutate)
    with pytest.raises(DataError) as err:
        read_dataset("wflw", tmp_path, split="train")
    assert err.value.path == str(path) and err.value.line == 2
    assert fragment in str(err.value)


def _synthetic_line(rel: str, box=(10, 12, 90, 95), first: str = None) -> str:
    """A WFLW line of 98 made-up points (no shared data), its first number replaceable."""
    p98 = np.random.default_rng(0).uniform(20, 80, (98, 2))
    text = _line(p98, box, (0,) * 6, rel)
    return text if first is None else " ".join([first] + text.split()[1:])


def _second_line_refused(tmp_path, bad_line: str) -> DataError:
    """Read a test list of one good line and ``bad_line``: the DataError, checked to name the
    list file and line 2."""
    write_image(tmp_path / "a" / "face.jpg")
    path = tmp_path / "list_98pt_rect_attr_test.txt"
    path.write_text(_synthetic_line("a/face.jpg") + "\n" + bad_line + "\n")
    with pytest.raises(DataError) as err:
        read_dataset("wflw", tmp_path, split="test")
    assert err.value.path == str(path) and err.value.line == 2
    return err.value


@pytest.mark.parametrize("number", ["6_11.28", "\uff16\uff11.28", "1e3_0"])
def test_wflw_number_float_takes_but_no_file_writes_is_refused(tmp_path, number):
    float(number)  # Python reads all three; an annotation file holding one is corrupt
    error = _second_line_refused(tmp_path, _synthetic_line("a/face.jpg", first=number))
    assert f"not a number: {number!r}" in str(error)


@pytest.mark.parametrize("box", [(90, 12, 10, 95), (10, 95, 90, 12), (10, 12, 10, 95)])
def test_wflw_box_with_no_area_is_refused_with_file_and_line(tmp_path, box):
    """x_min > x_max (or no width / height) used to be read without a word."""
    error = _second_line_refused(tmp_path, _synthetic_line("a/face.jpg", box=box))
    assert "box has no area or is not finite" in str(error)


def test_wflw_missing_annotation_file(tmp_path):
    with pytest.raises(DataError, match="list_98pt_rect_attr_test.txt not found"):
        read_dataset("wflw", tmp_path, split="test")


def test_wflw_unknown_split(wflw_root):
    root, _, _ = wflw_root
    with pytest.raises(DataError, match="unknown wflw split"):
        read_dataset("wflw", root, split="validation")


@pytest.mark.parametrize("encoding, ok", [("utf-8-sig", True), ("utf-16", False)])
def test_wflw_byte_order_mark_is_read_and_utf16_named(tmp_path, formats_dir, encoding, ok):
    _, p98, _ = _wflw_coco(formats_dir)[0]
    write_image(tmp_path / "a" / "face.jpg")
    path = tmp_path / "list_98pt_rect_attr_test.txt"
    path.write_text(_line(p98, (1, 2, 3, 4), (0,) * 6, "a/face.jpg"), encoding=encoding)
    if ok:
        assert len(read_dataset("wflw", tmp_path, split="test")) == 1
    else:
        with pytest.raises(DataError, match="list_98pt_rect_attr_test.txt: cannot read WFLW annotation file: not UTF-8"):
            read_dataset("wflw", tmp_path, split="test")

"""300W-LP and AFLW2000-3D readers: real samples against raw loadmat values, the
landmarks/ folder, the +-99 degree filter, and bad data."""
from __future__ import annotations

import pathlib
import re
import shutil

import numpy as np
import pytest
import scipy.io

from lponet_tf import geometry
from lponet_tf.data import read_dataset
from lponet_tf.errors import DataError
from reader_fixtures import face_points, write_image


def _euler_deg(pose_para) -> np.ndarray:
    """(yaw, pitch, roll) degrees from Pose_Para's (pitch, yaw, roll) radians, by hand."""
    pitch, yaw, roll = np.asarray(pose_para, np.float64).reshape(-1)[:3]
    return np.degrees([yaw, pitch, roll])


# ------------------------------------------------------------------------------ real data
def test_aflw2000_real_samples_match_loadmat(formats_dir):
    root = formats_dir / "aflw2000"
    records = read_dataset("aflw2000", root)
    assert [pathlib.Path(r.image_path).name for r in records] == [
        "image00050.jpg", "image00081.jpg", "image00251.jpg", "image00430.jpg"]
    for r in records:
        raw = scipy.io.loadmat(pathlib.Path(r.image_path).with_suffix(".mat"))
        np.testing.assert_allclose(r.landmarks, raw["pt3d_68"][:2].T, atol=1e-4)
        np.testing.assert_allclose(r.attributes["landmarks_3d"], raw["pt3d_68"].T, atol=1e-4)
        np.testing.assert_allclose(
            [r.attributes[k] for k in ("yaw", "pitch", "roll")], _euler_deg(raw["Pose_Para"]), atol=1e-4)
        np.testing.assert_allclose(r.pose, geometry.pose_para_to_matrix(raw["Pose_Para"][0]), atol=1e-6)
        np.testing.assert_allclose(r.pose @ r.pose.T, np.eye(3), atol=1e-5)
        assert r.dataset == "aflw2000" and r.mask_path is None


def test_aflw2000_real_pose_matches_the_face(formats_dir):
    """image00251 turns ~55 degrees (yaw < 0: towards the image right): its nose tip lies
    right of the eye-corner midpoint; the near-frontal image00050 has it centred."""
    recs = {pathlib.Path(r.image_path).stem: r for r in read_dataset("aflw2000", formats_dir / "aflw2000")}
    def nose_offset(r):
        lm = r.landmarks
        return (lm[30, 0] - (lm[36, 0] + lm[45, 0]) / 2) / np.linalg.norm(lm[36] - lm[45])
    assert recs["image00251"].attributes["yaw"] < -50 and nose_offset(recs["image00251"]) > 0.15
    assert abs(nose_offset(recs["image00050"])) < 0.05


def test_300w_lp_real_sample_matches_loadmat(formats_dir):
    records = read_dataset("300w_lp", formats_dir / "300w_lp")
    assert len(records) == 1
    r = records[0]
    raw = scipy.io.loadmat(formats_dir / "300w_lp" / "IBUG_image_008_1_0.mat")
    np.testing.assert_allclose(r.landmarks, raw["pt2d"].T, atol=1e-4)
    np.testing.assert_allclose(r.pose, geometry.pose_para_to_matrix(raw["Pose_Para"][0]), atol=1e-6)
    assert r.attributes["subset"] == "IBUG" and r.attributes["flipped"] is False
    np.testing.assert_allclose(r.attributes["yaw"], np.degrees(raw["Pose_Para"][0, 1]), atol=1e-4)


# ------------------------------------------------------------------------------ fixtures
def _write_3ddfa(folder, stem, pose_deg=(0.0, 0.0, 0.0), landmark_key="pt2d", points=None,
                 image=True, extra=None):
    """NAME.jpg + NAME.mat as 3DDFA writes them (v5 .mat, Pose_Para 1x7 pitch/yaw/roll rad)."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    yaw, pitch, roll = np.radians(pose_deg)
    pts = face_points(0) if points is None else np.asarray(points)
    content = {"Pose_Para": np.array([[pitch, yaw, roll, 100.0, 120.0, -50.0, 0.0013]], np.float32),
               "roi": np.array([[0, 0, 450, 450]], np.int16)}
    if landmark_key == "pt2d":
        content["pt2d"] = pts.T.astype(np.float64)
    elif landmark_key == "pt3d_68":
        content["pt3d_68"] = np.vstack([pts.T, np.zeros((1, pts.shape[0]))]).astype(np.float32)
    content.update(extra or {})
    scipy.io.savemat(folder / f"{stem}.mat", content)
    if image:
        write_image(folder / f"{stem}.jpg")
    return folder / f"{stem}.mat"


def test_aflw2000_drops_poses_beyond_99_degrees(tmp_path):
    _write_3ddfa(tmp_path, "image00001", (10, 5, 0), "pt3d_68")
    _write_3ddfa(tmp_path, "image00002", (0, 0, 0), "pt3d_68")
    _write_3ddfa(tmp_path, "image00003", (120, 5, 0), "pt3d_68")   # yaw beyond 99
    _write_3ddfa(tmp_path, "image00004", (20, -101, 0), "pt3d_68")  # pitch beyond 99
    # on the bound: kept. float64, as float32 radians read back as 98.99999 (not on it)
    on_bound = np.array([[0.0, np.radians(20.0), np.radians(99.0), 100.0, 120.0, -50.0, 0.0013]])
    assert np.degrees(on_bound[0, 2]) == 99.0
    _write_3ddfa(tmp_path, "image00005", (20, 0, 99.0), "pt3d_68", extra={"Pose_Para": on_bound})
    kept = read_dataset("aflw2000", tmp_path)
    assert [pathlib.Path(r.image_path).stem for r in kept] == ["image00001", "image00002", "image00005"]
    assert len(read_dataset("aflw2000", tmp_path, max_angle_deg=None)) == 5
    np.testing.assert_allclose(kept[0].pose, geometry.euler_to_matrix([10, 5, 0]), atol=1e-6)


@pytest.mark.parametrize("value", ["99", -5, 0, float("nan"), float("inf"), True])
def test_aflw2000_refuses_a_max_angle_that_is_no_angle(tmp_path, value):
    """Checked before any .mat is read, naming the root: "99" was a numpy ufunc error after
    reading, -5 silently dropped every face, nan silently kept every one."""
    from lponet_tf.data.readers.threeddfa import read_aflw2000

    _write_3ddfa(tmp_path, "image00001", (10, 5, 0), "pt3d_68")
    message = f"max_angle_deg must be None or a finite number of degrees > 0, got {value!r}"
    with pytest.raises(DataError) as err:
        read_aflw2000(tmp_path, max_angle_deg=value)
    assert err.value.path == str(tmp_path) and message in str(err.value)
    # through read_dataset: refused with the option names, before the reader runs
    with pytest.raises(ValueError, match=re.escape(message)):
        read_dataset("aflw2000", tmp_path, max_angle_deg=value)


@pytest.fixture()
def lp_root(tmp_path):
    """300W-LP layout with a landmarks/ folder and a _Flip folder."""
    root = tmp_path / "300W_LP"
    pts2d, pts3d = face_points(1), face_points(2) + 3.0
    _write_3ddfa(root / "IBUG", "IBUG_image_003_1_0", (30, 0, 0), points=face_points(0))
    _write_3ddfa(root / "IBUG", "IBUG_image_003_1_1", (40, 0, 0), landmark_key=None)  # no pt2d
    _write_3ddfa(root / "IBUG_Flip", "IBUG_image_003_1_0", (-30, 0, 0), points=face_points(3))
    _write_3ddfa(root / "AFW", "AFW_134212_1_0", (0, 10, 0), points=face_points(4))
    for stem in ("IBUG_image_003_1_0", "IBUG_image_003_1_1"):
        lm = root / "landmarks" / "IBUG"
        lm.mkdir(parents=True, exist_ok=True)
        scipy.io.savemat(lm / f"{stem}_pts.mat", {"pts_2d": pts2d, "pts_3d": pts3d})
    return root, pts2d, pts3d


def test_300w_lp_layout_subsets_and_flip(lp_root):
    root, pts2d, _ = lp_root
    paper = read_dataset("300w_lp", root)  # the paper's 61,225: no mirrored copies
    assert sorted(pathlib.Path(r.image_path).parent.name for r in paper) == ["AFW", "IBUG", "IBUG"]
    assert not any(r.attributes["flipped"] for r in paper)
    records = read_dataset("300w_lp", root, flips=True)
    assert len(records) == 4  # the landmarks/ files are not faces
    by = {(pathlib.Path(r.image_path).parent.name, pathlib.Path(r.image_path).stem): r for r in records}
    flip = by[("IBUG_Flip", "IBUG_image_003_1_0")]
    assert flip.attributes["flipped"] and flip.attributes["subset"] == "IBUG"
    assert flip.attributes["yaw"] == pytest.approx(-30, abs=1e-4)
    np.testing.assert_allclose(flip.landmarks, face_points(3), atol=1e-4)
    # a .mat without pt2d falls back to landmarks/<SUBSET>/<NAME>_pts.mat pts_2d
    np.testing.assert_allclose(by[("IBUG", "IBUG_image_003_1_1")].landmarks, pts2d, atol=1e-4)
    assert {r.attributes["subset"] for r in read_dataset("300w_lp", root, split="afw")} == {"AFW"}
    assert len(read_dataset("300w_lp", root, split="ibug_flip")) == 1
    only_flips = root.parent / "flips_only"
    only_flips.mkdir()
    shutil.copytree(root / "IBUG_Flip", only_flips / "IBUG_Flip")
    with pytest.raises(DataError, match="flips: true"):
        read_dataset("300w_lp", only_flips)
    assert len(read_dataset("300w_lp", only_flips, flips=True)) == 1


def test_300w_lp_landmarks_folder_sources(lp_root):
    root, pts2d, pts3d = lp_root
    records = read_dataset("300w_lp", root, split="ibug", landmarks="pts_3d")
    assert len(records) == 2
    for r in records:
        np.testing.assert_allclose(r.landmarks, pts3d, atol=1e-4)
    for r in read_dataset("300w_lp", root, split="ibug", landmarks="pts_2d"):
        np.testing.assert_allclose(r.landmarks, pts2d, atol=1e-4)


def test_300w_lp_landmarks_folder_has_no_mirrored_points(lp_root):
    root, _, _ = lp_root
    with pytest.raises(DataError, match="_Flip"):
        read_dataset("300w_lp", root, split="ibug_flip", landmarks="pts_3d")


def test_300w_lp_missing_landmark_file(lp_root):
    root, _, _ = lp_root
    with pytest.raises(DataError) as err:
        read_dataset("300w_lp", root, split="afw", landmarks="pts_2d")
    assert err.value.path.endswith("AFW_134212_1_0.mat") and "AFW_134212_1_0_pts.mat" in str(err.value)


def test_300w_lp_unknown_subset_and_landmark_source(lp_root):
    root, _, _ = lp_root
    with pytest.raises(DataError, match="subset folder 'helen' not found"):
        read_dataset("300w_lp", root, split="helen")
    with pytest.raises(ValueError):
        read_dataset("300w_lp", root, landmarks="pt3d")


def test_3ddfa_missing_image(tmp_path):
    mat = _write_3ddfa(tmp_path, "image00001", landmark_key="pt3d_68", image=False)
    with pytest.raises(DataError) as err:
        read_dataset("aflw2000", tmp_path)
    assert err.value.path == str(mat) and "missing image" in str(err.value)


def test_3ddfa_corrupt_mat(tmp_path, formats_dir):
    shutil.copy(formats_dir / "aflw2000" / "image00050.jpg", tmp_path / "image00050.jpg")
    data = (formats_dir / "aflw2000" / "image00050.mat").read_bytes()
    (tmp_path / "image00050.mat").write_bytes(data[: len(data) // 3])  # truncated
    with pytest.raises(DataError) as err:
        read_dataset("aflw2000", tmp_path)
    assert err.value.path == str(tmp_path / "image00050.mat") and "unreadable" in str(err.value)


def test_3ddfa_garbage_mat(tmp_path):
    write_image(tmp_path / "x_0.jpg")
    (tmp_path / "x_0.mat").write_bytes(b"this is not a mat file at all" * 10)
    with pytest.raises(DataError, match="unreadable .mat"):
        read_dataset("300w_lp", tmp_path)


def test_3ddfa_wrong_point_count(tmp_path):
    _write_3ddfa(tmp_path, "IBUG_x_0", points=np.zeros((21, 2)))
    with pytest.raises(DataError, match="should hold 68 points"):
        read_dataset("300w_lp", tmp_path)
    _write_3ddfa(tmp_path / "a", "image00001", landmark_key=None, extra={"pt3d_68": np.zeros((3, 21))})
    with pytest.raises(DataError, match="3 x 68"):
        read_dataset("aflw2000", tmp_path / "a")


def test_3ddfa_missing_pose(tmp_path):
    mat = _write_3ddfa(tmp_path, "image00001", landmark_key="pt3d_68")
    content = scipy.io.loadmat(mat)
    scipy.io.savemat(mat, {"pt3d_68": content["pt3d_68"]})
    with pytest.raises(DataError, match="missing variable 'Pose_Para'"):
        read_dataset("aflw2000", tmp_path)


def test_aflw2000_has_no_split(tmp_path):
    _write_3ddfa(tmp_path, "image00001", landmark_key="pt3d_68")
    with pytest.raises(DataError, match="no splits"):
        read_dataset("aflw2000", tmp_path, split="test")


def test_3ddfa_empty_folder(tmp_path):
    with pytest.raises(DataError, match="no 300w_lp"):
        read_dataset("300w_lp", tmp_path)
    with pytest.raises(DataError, match="no aflw2000"):
        read_dataset("aflw2000", tmp_path)


def test_a_copy_of_aflw2000_inside_its_root_is_refused_not_counted_twice(formats_dir, tmp_path):
    root = tmp_path / "AFLW2000"
    shutil.copytree(formats_dir / "aflw2000", root)
    assert len(read_dataset("aflw2000", root, max_angle_deg=None)) == 4
    shutil.copytree(formats_dir / "aflw2000", root / "SO" / "left")   # 24 faces before
    with pytest.raises(DataError, match="the same face as .*is a copy of it .* inside this folder"):
        read_dataset("aflw2000", root, max_angle_deg=None)

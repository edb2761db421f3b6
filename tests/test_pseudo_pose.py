"""Pose pseudo-labels: the shipped mean face, PnP against known poses (synthetic and the
real AFLW2000-3D / 300W-LP labels), mirror consistency on real 300W faces, filling records."""
from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
import pytest

from lponet_tf import geometry
from lponet_tf.data import FaceRecord, read_dataset
from lponet_tf.data.pseudo_pose import (
    MEAN_FACE_PATH, camera_matrix, face_centre, fill_pseudo_poses, image_size_of, mean_face, pseudo_pose)
from lponet_tf.errors import DataError
from script_modules import load_script

REPO = pathlib.Path(__file__).resolve().parents[1]
MIRROR_X = np.array([-1.0, 1.0, 1.0])


def _derive_script():
    return load_script("scripts/derive_mean_face.py")


def _degrees(R1, R2) -> float:
    return float(np.degrees(geometry.geodesic_distance(R1, R2)))


def _project(R, size=(450, 450), distance=2000.0, shift=(0.0, 0.0)):
    """Perspective image of the mean face at pose R with the pseudo_pose camera."""
    K = camera_matrix(size)
    cam = mean_face() @ R.T + [shift[0], shift[1], distance]
    return (cam[:, :2] / cam[:, 2:]) * K[0, 0] + K[:2, 2]


# ------------------------------------------------------------------------------ mean face
def test_mean_face_shape_units_and_frame():
    face = mean_face()
    assert face.shape == (68, 3) and np.all(np.isfinite(face))
    np.testing.assert_allclose(face.mean(axis=0), 0.0, atol=1e-3)
    assert 75 < np.linalg.norm(face[36] - face[45]) < 100          # outer eye corners, mm
    assert face[8, 1] > face[30, 1] > face[36, 1]                  # y down: chin, nose, eyes
    assert face[30, 2] < face[36, 2] - 20                          # nose tip towards the camera (-z)
    assert face[45, 0] > 0 > face[36, 0]                           # subject's left eye at +x
    from lponet_tf.data.augment import FLIP_68
    np.testing.assert_allclose(face[FLIP_68] * MIRROR_X, face, atol=1e-4)  # symmetric


def test_mean_face_regenerates_from_the_real_samples(formats_dir):
    script = _derive_script()
    face, rms = script.derive_mean_face(sorted((formats_dir / "aflw2000").glob("*.mat")))
    np.testing.assert_allclose(face, np.load(MEAN_FACE_PATH), atol=1e-4)
    assert np.all(rms < 5.0)  # the samples agree once rotated back: the pose convention fits


def test_mean_face_script_writes_only_where_told(formats_dir, tmp_path, capsys):
    """The script once wrote the packaged mean face when --out was left out: --out is now
    required, an existing file is replaced only with --overwrite, an input never."""
    script = _derive_script()
    mats = sorted((formats_dir / "aflw2000").glob("*.mat"))
    packaged = pathlib.Path(MEAN_FACE_PATH).read_bytes()
    with pytest.raises(SystemExit) as exit_:
        script.main([str(m) for m in mats])
    assert exit_.value.code == 2 and "--out" in capsys.readouterr().err
    out = tmp_path / "face.npy"
    out.write_bytes(b"mine")
    with pytest.raises(SystemExit) as exit_:
        script.main([*map(str, mats), "--out", str(out)])
    assert exit_.value.code == 2 and "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"mine"
    with pytest.raises(SystemExit):
        script.main([*map(str, mats), "--out", str(tmp_path / "face.mat")])
    assert ".npy" in capsys.readouterr().err  # np.save would have added it
    inputs = tmp_path / "in"
    inputs.mkdir()
    for m in mats:
        (inputs / m.name).write_bytes(m.read_bytes())
    (inputs / "kept.npy").write_bytes(b"data")  # a file in the input folder is an input
    with pytest.raises(SystemExit):
        script.main([str(inputs), "--out", str(inputs / "kept.npy"), "--overwrite"])
    assert "input" in capsys.readouterr().err and (inputs / "kept.npy").read_bytes() == b"data"
    assert script.main([*map(str, mats), "--out", str(out), "--overwrite"]) == 0
    np.testing.assert_allclose(np.load(out), np.load(MEAN_FACE_PATH), atol=1e-4)
    assert pathlib.Path(MEAN_FACE_PATH).read_bytes() == packaged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.npy", "in"]  # no temporary left


# ------------------------------------------------------------------------------ synthetic
@pytest.mark.parametrize("ypr", [(0, 0, 0), (35, -10, 5), (-60, 20, -15), (10, 40, 25), (75, 0, 0)])
def test_pseudo_pose_recovers_a_known_pose(ypr):
    R = geometry.euler_to_matrix(ypr)
    estimate = pseudo_pose(_project(R), (450, 450))
    assert _degrees(estimate, R) < 0.05
    assert abs(np.linalg.det(estimate) - 1) < 1e-9


def test_pseudo_pose_non_square_image_and_off_centre_face():
    R = geometry.euler_to_matrix([20, 10, -5])
    points = _project(R, size=(300, 640), distance=2500.0, shift=(120.0, -40.0))
    assert _degrees(pseudo_pose(points, (300, 640)), R) < 0.05


def test_pseudo_pose_rejects_bad_input():
    with pytest.raises(ValueError):
        pseudo_pose(np.zeros((5, 2)), (100, 100))
    with pytest.raises(ValueError):
        pseudo_pose(np.full((68, 2), np.nan), (100, 100))
    with pytest.raises(ValueError):
        camera_matrix((0, 100))
    with pytest.raises(ValueError):
        pseudo_pose(np.zeros((68, 2)), (100, 100), face_model=np.zeros((68, 2)))


# ------------------------------------------------------------------------------ real labels
def _real_pose_records(formats_dir):
    return (read_dataset("aflw2000", formats_dir / "aflw2000")
            + read_dataset("300w_lp", formats_dir / "300w_lp"))


def test_pseudo_pose_against_real_labels(formats_dir):
    """The mean face includes these AFLW2000 faces, so this bounds the in-sample error; the
    300W-LP face (2D-style contour) is not in it. Measured: AFLW2000 1.6 / 4.3 / 3.0 / 2.6
    degrees, 300W-LP 3.5 degrees."""
    errors, euler = [], []
    for r in _real_pose_records(formats_dir):
        estimate = pseudo_pose(r.landmarks, image_size_of(r.image_path))
        errors.append(_degrees(estimate, r.pose))
        euler.append(np.abs(geometry.matrix_to_euler(estimate) - geometry.matrix_to_euler(r.pose)))
    errors, euler = np.array(errors), np.array(euler)
    assert errors.max() < 6.0 and errors[:4].mean() < 4.0
    assert np.all(euler[:4].mean(axis=0) < 4.0)


def test_pseudo_pose_leave_one_out_on_aflw2000(formats_dir):
    """A mean face built without the face under test still gets its pose within 8 degrees
    (measured 2.3 / 5.6 / 3.5 / 3.1: only three faces build each mean)."""
    script = _derive_script()
    mats = sorted((formats_dir / "aflw2000").glob("*.mat"))
    records = read_dataset("aflw2000", formats_dir / "aflw2000")
    for held_out, record in zip(mats, records):
        model, _ = script.derive_mean_face([m for m in mats if m != held_out])
        estimate = pseudo_pose(record.landmarks, (450, 450), face_model=model)
        assert _degrees(estimate, record.pose) < 8.0


def test_pseudo_pose_mirrors_with_the_image_on_real_300w(faces_300w):
    """Flipping a real face (x -> w - 1 - x, iBUG mirror permutation) mirrors its pseudo-pose."""
    from lponet_tf.data.augment import FLIP_68

    for r in read_dataset("300w", faces_300w / "afw")[:40:8]:
        h, w = image_size_of(r.image_path)
        R = pseudo_pose(r.landmarks, (h, w))
        flipped = r.landmarks[FLIP_68].copy()
        flipped[:, 0] = (w - 1) - flipped[:, 0]
        assert _degrees(pseudo_pose(flipped, (h, w)), geometry.mirror_rotation(R)) < 0.5


# ------------------------------------------------------------------------------ records
def test_fill_pseudo_poses(faces_300w, formats_dir):
    landmark_only = read_dataset("300w", faces_300w / "helen_trainset")[:3]
    with_pose = read_dataset("aflw2000", formats_dir / "aflw2000")[:1]
    no_landmarks = FaceRecord(image_path=landmark_only[0].image_path)
    before = [dataclasses.replace(r, attributes=dict(r.attributes)) for r in landmark_only]
    out = fill_pseudo_poses(landmark_only + with_pose + [no_landmarks])
    assert len(out) == 5
    for new, old in zip(out[:3], before):
        assert new.pose.shape == (3, 3) and new.attributes["pose_source"] == "solvepnp"
        np.testing.assert_allclose(new.pose, pseudo_pose(old.landmarks, image_size_of(old.image_path)), atol=1e-6)
        assert all(new.attributes[k] == v for k, v in old.attributes.items())
    assert all(r.pose is None and "pose_source" not in r.attributes for r in landmark_only)
    assert out[3] is with_pose[0] and out[4] is no_landmarks


def test_fill_pseudo_poses_with_given_sizes():
    lm = _project(geometry.euler_to_matrix([25, 0, 0]))
    record = FaceRecord(image_path="not/read.jpg", landmarks=lm)
    out = fill_pseudo_poses([record], image_size=lambda path: (450, 450))
    assert _degrees(out[0].pose, geometry.euler_to_matrix([25, 0, 0])) < 0.05


@pytest.mark.parametrize("ypr", [(0, 0, 0), (30, -15, 5), (-45, 10, 0)])
def test_face_centred_labels_give_the_pose_a_crop_of_the_face_shows(ypr):
    """A face near the right edge of a wide photo, seen by a camera whose principal ray goes
    through the head (what a crop centred on the face shows): ``centre="face"`` recovers its
    pose; the photo-centred label adds the ray's angle (f = 2,560 px, 187 px off centre: 4.2
    degrees)."""
    R = geometry.euler_to_matrix(ypr)
    K = camera_matrix((300, 640))
    ray_centre = np.array([500.0, 100.0])
    cam = mean_face() @ R.T + [0.0, 0.0, 2500.0]
    lm = (cam[:, :2] / cam[:, 2:]) * K[0, 0] + ray_centre
    record = FaceRecord(image_path="not/read.jpg", landmarks=lm)
    face, photo = (fill_pseudo_poses([record], image_size=lambda path: (300, 640), centre=c)[0].pose
                   for c in ("face", "photo"))
    # The box centre is not the head's ray (up to 33 px off at these turns: 0.7 degrees).
    assert _degrees(face, R) < 1.0
    assert _degrees(photo, R) > 3.5


def test_face_centre_and_its_option_checked():
    assert face_centre([[10.0, 20.0], [30.0, 60.0], [np.nan, 0.0]]).tolist() == [20.0, 40.0]
    with pytest.raises(ValueError, match="centre must be one of"):
        fill_pseudo_poses([], centre="middle")
    with pytest.raises(ValueError, match="principal_point"):
        camera_matrix((100, 100), principal_point=(np.nan, 1.0))
    assert camera_matrix((100, 100), principal_point=(3.0, 7.0))[:2, 2].tolist() == [3.0, 7.0]


def test_image_size_of_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        image_size_of(tmp_path / "none.jpg")


def test_an_exif_turned_photo_is_labelled_in_the_upright_frame_of_its_landmarks(tmp_path):
    """A phone photo stored 60 wide x 40 high with EXIF orientation 6: samples see it
    upright, 40 x 60, and its landmarks are in that frame. The size used to be read without
    the orientation, which moved the principal point 10 px along each axis."""
    from PIL import Image

    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.zeros((40, 60, 3), np.uint8)).save(path, exif=exif.tobytes())
    assert image_size_of(path) == (60, 40)
    lm = _project(geometry.euler_to_matrix([30, 10, 0]), size=(60, 40))
    record = FaceRecord(image_path=str(path), landmarks=lm)
    assert _degrees(fill_pseudo_poses([record])[0].pose, geometry.euler_to_matrix([30, 10, 0])) < 0.05


# (Every other test projects with camera_matrix itself, so a wrong K cancels out.)
def test_camera_matrix_of_a_non_square_image_by_hand():
    from lponet_tf.data.pseudo_pose import camera_matrix

    # f = 4 x the longer side (640); principal point ((640-1)/2, (300-1)/2).
    np.testing.assert_array_equal(camera_matrix((300, 640)),
                                  [[2560.0, 0.0, 319.5], [0.0, 2560.0, 149.5], [0.0, 0.0, 1.0]])

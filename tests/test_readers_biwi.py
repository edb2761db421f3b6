"""BIWI: frame_NNNNN_pose.txt fixtures in the exact format, the axis convention, bad files."""
from __future__ import annotations

import pathlib

import numpy as np
import pytest

from lponet_tf import geometry
from lponet_tf.data import read_dataset
from lponet_tf.data.readers.biwi import read_biwi_pose
from lponet_tf.errors import DataError
from reader_fixtures import write_image


def _pose_text(R, t) -> str:
    """As in the BIWI files: three rotation rows, a blank line, the translation row."""
    rows = "\n".join(" ".join(f"{v:.6g}" for v in row) + " " for row in R)
    return f"{rows}\n\n{' '.join(f'{v:.6g}' for v in t)} \n"


def _write_frame(folder, frame, R, t=(47.4, 22.6, 868.2), image=True):
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"frame_{frame:05d}_pose.txt").write_text(_pose_text(R, t))
    if image:
        write_image(folder / f"frame_{frame:05d}_rgb.png")
    return folder / f"frame_{frame:05d}_pose.txt"


def _hopenet_angles(R_file):
    """The usual BIWI -> (yaw, pitch, roll) protocol (Hopenet / FSA-Net / 6DRepNet)."""
    M = np.asarray(R_file).T
    roll = -np.degrees(np.arctan2(M[1, 0], M[0, 0]))
    yaw = -np.degrees(np.arctan2(-M[2, 0], np.hypot(M[2, 1], M[2, 2])))
    pitch = np.degrees(np.arctan2(M[2, 1], M[2, 2]))
    return yaw, pitch, roll


@pytest.fixture()
def biwi_root(tmp_path):
    rng = np.random.default_rng(0)
    truth = {}
    for seq in ("01", "02"):
        for frame in (3, 4, 5):
            ypr = rng.uniform([-70, -50, -40], [70, 50, 40])
            R = geometry.euler_to_matrix(ypr)
            _write_frame(tmp_path / "hpdb" / seq, frame, R)
            truth[(seq, frame)] = (R, ypr)
    # BIWI sequence folders also hold depth frames and calibration: ignored
    (tmp_path / "hpdb" / "01" / "rgb.cal").write_text("517.679 0 320\n")
    (tmp_path / "hpdb" / "01" / "frame_00003_depth.bin").write_bytes(b"\0" * 8)
    return tmp_path / "hpdb", truth


def test_biwi_reads_every_frame(biwi_root):
    root, truth = biwi_root
    records = read_dataset("biwi", root)
    assert len(records) == 6
    for r in records:
        seq, frame = r.attributes["sequence"], int(pathlib.Path(r.image_path).name[6:11])
        R, ypr = truth[(seq, frame)]
        # the file's rows, rounded to 6 digits, are the label: the axis change is the identity
        np.testing.assert_allclose(r.pose, R, atol=2e-6)
        np.testing.assert_allclose([r.attributes[k] for k in ("yaw", "pitch", "roll")], ypr, atol=1e-3)
        np.testing.assert_allclose(r.attributes["translation_mm"], [47.4, 22.6, 868.2])
        assert r.image_path.endswith("_rgb.png") and r.landmarks is None and r.dataset == "biwi"


def test_biwi_label_equals_the_usual_protocol():
    """Euler angles of the standard BIWI protocol, rebuilt with geometry.euler_to_matrix,
    give back the file's matrix: our label is that protocol's pose, as a matrix."""
    rng = np.random.default_rng(1)
    for _ in range(20):
        R_file = geometry.euler_to_matrix(rng.uniform([-80, -60, -60], [80, 60, 60]))
        np.testing.assert_allclose(geometry.euler_to_matrix(_hopenet_angles(R_file)), R_file, atol=1e-12)


def test_biwi_sequence_split(biwi_root):
    root, _ = biwi_root
    assert {r.attributes["sequence"] for r in read_dataset("biwi", root, split="02")} == {"02"}
    assert len(read_dataset("biwi", root, split="01, 02")) == 6
    with pytest.raises(DataError, match=r"sequences not found: \['07'\]"):
        read_dataset("biwi", root, split="01,07")


def test_biwi_file_formatting(tmp_path):
    # BIWI's formatting: 6 significant digits, a trailing space per row, a blank line
    # before the translation (illustrative values, not copied from the dataset)
    text = ("0.983045 -0.0202433 0.182223 \n-0.00453047 0.990612 0.136628 \n"
            "-0.183287 -0.135194 0.973708 \n\n47.4058 22.5834 868.197 \n")
    (tmp_path / "frame_00003_pose.txt").write_text(text)
    R, t = read_biwi_pose(tmp_path / "frame_00003_pose.txt")
    assert R[0, 2] == pytest.approx(0.182223) and t[2] == pytest.approx(868.197)


@pytest.mark.parametrize("text, line, fragment", [
    ("1 0 0\n0 1 0\n0 0\n\n1 2 3\n", 3, "expected 3 numbers"),
    ("1 0 0\n0 1 x\n0 0 1\n\n1 2 3\n", 2, "not a number"),
    ("1 0 0\n0 1 0\n0 0 1\n\n1 2 3\n4 5 6\n", 6, "more than 4 rows"),
    # float() takes both, the .pts parser refuses both: so does this one
    ("1 0 0\n0 1 0\n0 0 1\n\n47.4 22.6 8_68.2\n", 5, "not a number"),
    ("1 0 0\n0 1 0\n0 0 1\n\n47.4 22.6 \uff18\uff16\uff18.2\n", 5, "not a number"),
])
def test_biwi_malformed_pose_names_file_and_line(tmp_path, text, line, fragment):
    (tmp_path / "frame_00001_pose.txt").write_text(text)
    write_image(tmp_path / "frame_00001_rgb.png")
    with pytest.raises(DataError) as err:
        read_dataset("biwi", tmp_path)
    assert err.value.path == str(tmp_path / "frame_00001_pose.txt") and err.value.line == line
    assert fragment in str(err.value)


def test_biwi_not_a_rotation_or_too_short(tmp_path):
    path = tmp_path / "frame_00001_pose.txt"
    path.write_text("1 0 0\n0 2 0\n0 0 1\n\n1 2 3\n")
    with pytest.raises(DataError, match="not a rotation"):
        read_biwi_pose(path)
    path.write_text("1 0 0\n0 -1 0\n0 0 1\n\n1 2 3\n")  # a reflection
    with pytest.raises(DataError, match="not a rotation"):
        read_biwi_pose(path)
    path.write_text("1 0 0\n0 1 0\n0 0 1\n")
    with pytest.raises(DataError, match="got 3"):
        read_biwi_pose(path)


def test_biwi_missing_image_and_empty_root(tmp_path):
    pose = _write_frame(tmp_path / "05", 7, np.eye(3), image=False)
    with pytest.raises(DataError) as err:
        read_dataset("biwi", tmp_path)
    assert err.value.path == str(pose) and "frame_00007_rgb.png" in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no biwi"):
        read_dataset("biwi", tmp_path / "empty")


def test_biwi_latin1_pose_file_is_a_typed_error_naming_it(tmp_path):
    path = tmp_path / "frame_00001_pose.txt"
    path.write_bytes("# café\n1 0 0\n0 1 0\n0 0 1\n\n1 2 3\n".encode("latin-1"))
    with pytest.raises(DataError, match="frame_00001_pose.txt: cannot read BIWI pose file: not UTF-8"):
        read_biwi_pose(path)

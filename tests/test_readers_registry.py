"""read_dataset / list_datasets: names, missing roots, no TensorFlow import, .mat loading."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.io

from lponet_tf.data import FaceRecord, list_datasets, read_dataset
from lponet_tf.data.matfile import load_mat
from lponet_tf.errors import DataError

NAMES = ["300w_lp", "aflw2000", "300w", "masked_300w", "wflw", "cofw", "biwi", "ccm", "realocc_wild"]


def test_list_datasets():
    assert list_datasets() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_missing_root_names_dataset_and_path(tmp_path, name):
    missing = tmp_path / "not_here"
    with pytest.raises(DataError) as err:
        read_dataset(name, missing)
    assert err.value.path == str(missing)
    assert f"{name} dataset root not found" in str(err.value)


@pytest.mark.parametrize("name", NAMES)
def test_empty_root_is_a_data_error(tmp_path, name):
    with pytest.raises(DataError):
        read_dataset(name, tmp_path)


def test_unknown_name_and_aliases(faces_300w):
    with pytest.raises(ValueError, match="unknown dataset"):
        read_dataset("300vw", "/tmp")
    records = read_dataset("300W", faces_300w / "afw")
    assert isinstance(records[0], FaceRecord) and records[0].dataset == "300w"
    assert len(read_dataset("masked-300w", faces_300w / "afw")) == 337


def test_readers_do_not_import_tensorflow(formats_dir):
    code = ("import sys; from lponet_tf.data import read_dataset; "
            f"read_dataset('aflw2000', {str(formats_dir / 'aflw2000')!r}); "
            "from lponet_tf.data import pseudo_pose; "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_load_mat_v5_keys_and_missing_file(tmp_path):
    scipy.io.savemat(tmp_path / "a.mat", {"x": np.arange(6.0).reshape(2, 3), "y": np.ones((1, 7))})
    assert set(load_mat(tmp_path / "a.mat")) == {"x", "y"}
    only = load_mat(tmp_path / "a.mat", keys=["x", "absent"])
    assert list(only) == ["x"] and only["x"].shape == (2, 3)
    with pytest.raises(DataError, match="file not found"):
        load_mat(tmp_path / "b.mat")


def test_load_mat_truncated_v5_is_unreadable_not_missing(tmp_path, formats_dir):
    data = (formats_dir / "aflw2000" / "image00050.mat").read_bytes()
    (tmp_path / "t.mat").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="unreadable"):
        load_mat(tmp_path / "t.mat", keys=["Pose_Para"])


@pytest.mark.parametrize("name, folder, split, typo", [
    ("300w_lp", "AFW", "afw", "afww"),          # subset folders, any case (as the reader)
    ("ccm", "test", "test", "tset"),
    ("realocc_wild", "val", "val", "vla"),
    ("biwi", "hpdb/07", "07,07", "07,70"),      # sequences one level down, a list
])
def test_folder_splits_are_checked_against_the_root_before_reading(tmp_path, name, folder, split, typo):
    from lponet_tf.data.readers import check_split

    (tmp_path / folder).mkdir(parents=True)
    check_split(name, split, tmp_path)
    with pytest.raises(ValueError, match=f"dataset '{name}' split '{typo}': no "):
        check_split(name, typo, tmp_path)
    # No root, or one not on this machine: left to the reader.
    check_split(name, typo)
    check_split(name, typo, tmp_path / "elsewhere")


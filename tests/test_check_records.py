"""``lponet_tf.data.sample.check_records``: the pre-flight a training run and an evaluation
make of their faces' files before any long work (sizes from headers, landmarks against them,
masks present)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from lponet_tf.data.records import FaceRecord
from lponet_tf.data.sample import check_records
from lponet_tf.errors import DataError


@pytest.fixture()
def photo(tmp_path):
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), np.zeros((30, 50, 3), np.uint8))
    return str(path)


def test_every_image_is_sized_once_with_or_without_landmarks(photo, tmp_path):
    mask = tmp_path / "photo_mask.png"
    cv2.imwrite(str(mask), np.zeros((30, 50), np.uint8))
    records = [FaceRecord(photo, landmarks=np.array([[5.0, 5.0], [40.0, 25.0]])),
               FaceRecord(photo, box=(0.0, 0.0, 10.0, 10.0), mask_path=str(mask))]
    assert check_records(records) == {photo: (30, 50)}
    assert check_records([]) == {}


def test_a_missing_or_broken_image_of_a_face_without_landmarks_is_named(tmp_path):
    missing = str(tmp_path / "gone.jpg")
    with pytest.raises(DataError, match="file not found") as err:
        check_records([FaceRecord(missing, box=(0.0, 0.0, 10.0, 10.0))])
    assert err.value.path == missing
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(DataError) as err:
        check_records([FaceRecord(str(text), mask_path=str(text))])
    assert err.value.path == str(text)


def test_a_missing_mask_file_is_named_with_its_image(photo, tmp_path):
    mask = str(tmp_path / "photo_mask.png")
    with pytest.raises(DataError, match="mask file not found") as err:
        check_records([FaceRecord(photo, mask_path=mask)])
    assert err.value.path == mask and photo in str(err.value)


def test_landmarks_of_another_copy_of_the_photo_name_their_annotation_file(photo):
    record = FaceRecord(photo, landmarks=np.array([[500.0, 300.0], [540.0, 330.0]]),
                        attributes={"annotation_path": "photo.pts"})
    with pytest.raises(DataError, match="the landmarks lie outside the 50x30 image") as err:
        check_records([record])
    assert err.value.path == "photo.pts"

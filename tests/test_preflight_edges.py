"""Edges of the pre-flight checks (data/sample.py, codec/image.py): synthetic, no shared
data, under a second."""
import re

import pytest

from lponet_tf.data.records import FaceRecord
from lponet_tf.data.sample import check_landmarks_in_image, landmarks_inside_share
from lponet_tf.errors import DataError, ImageError


def test_landmarks_less_than_half_inside_are_refused_at_the_documented_threshold():
    """MIN_LANDMARKS_INSIDE is 0.5: a box 40% inside is another copy's labels (refused), one
    60% inside a face at the border (kept). The suite only tried 0% and 66%."""
    image = (100, 100, 3)
    # x 40..140 over an image whose pixels end at 99.5: 59.5 / 100 inside
    check_landmarks_in_image([[40.0, 10.0], [140.0, 60.0]], image, "kept.pts")
    # x 60..160: 39.5 / 100 inside
    assert landmarks_inside_share([[60.0, 10.0], [160.0, 60.0]], image) == pytest.approx(0.395)
    with pytest.raises(DataError, match="lie outside the 100x100 image"):
        check_landmarks_in_image([[60.0, 10.0], [160.0, 60.0]], image, "moved.pts")


def test_landmarks_on_one_line_count_by_whether_that_line_is_inside():
    """A box of no width (every x the same) is inside when its x is: a vertical line of
    points to the right of the image is outside, not 'all inside'."""
    assert landmarks_inside_share([[500.0, 10.0], [500.0, 20.0]], (100, 100)) == 0.0
    assert landmarks_inside_share([[50.0, 10.0], [50.0, 20.0]], (100, 100)) == 1.0


def test_image_size_refuses_a_header_over_max_pixels_when_pillows_limit_is_off(tmp_path, monkeypatch):
    """A program that turned Pillow's decompression-bomb limit off (MAX_IMAGE_PIXELS = None):
    image_size reads the 21000 x 20000 BMP header itself and refuses it (over MAX_PIXELS), as
    load_image does, instead of returning a size that the training's decode refuses later."""
    from PIL import Image

    import lponet_tf.codec.image as codec_image
    import struct

    # a BMP header declaring 21000 x 20000 (24-bit) and no pixels: Pillow reads its header
    # (a header-only PNG fails Pillow's EXIF read and takes the decode path instead)
    info = struct.pack("<IiiHHIIiiII", 40, 21000, 20000, 1, 24, 0, 0, 2835, 2835, 0, 0)
    path = tmp_path / "bomb.bmp"
    path.write_bytes(b"BM" + struct.pack("<IHHI", 14 + 40 + 16, 0, 0, 54) + info + bytes(16))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)

    def no_decode(*args, **kwargs):
        raise AssertionError("decoded although the header is over MAX_PIXELS")

    monkeypatch.setattr(codec_image.cv2, "imdecode", no_decode)
    with pytest.raises(ImageError, match="^" + re.escape(f"{path}: image too large (21000 x 20000 pixels)")):
        codec_image.image_size(path)
    from lponet_tf.data.sample import check_records

    with pytest.raises(DataError, match="image too large"):
        check_records([FaceRecord(str(path))])

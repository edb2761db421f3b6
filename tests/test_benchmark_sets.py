"""AFLW2000-SO and Masked-300W builders, on the real samples (skipped when absent)."""
import filecmp
import shutil

import cv2
import numpy as np
import pytest
import scipy.io

from lponet_tf.data import read_dataset
from lponet_tf.data.benchmark_sets import (
    SO_PARTS,
    build_aflw2000_so,
    build_masked_300w,
    fill_rectangle,
    so_rectangle,
)
from lponet_tf.codec.crop import box_from_landmarks, square_box


def test_so_rectangles_cover_the_named_part_of_the_box():
    box = (10, 20, 110, 120)
    assert so_rectangle(box, "left") == (10, 20, 60, 120)
    assert so_rectangle(box, "right") == (60, 20, 110, 120)
    assert so_rectangle(box, "top") == (10, 20, 110, 70)
    assert so_rectangle(box, "bottom") == (10, 70, 110, 120)
    assert so_rectangle(box, "middle") == (35, 45, 85, 95)
    with pytest.raises(ValueError):
        so_rectangle(box, "centre")


def test_fill_rectangle_uses_pixel_centres_and_clips():
    img = np.ones((10, 10), np.uint8)
    fill_rectangle(img, (-5.0, 2.0, 3.5, 4.0))
    assert img[2:4, :4].sum() == 0 and img.sum() == 100 - 8
    fill_rectangle(img, (20, 20, 30, 30))  # outside: nothing
    assert img.sum() == 92


@pytest.fixture(scope="module")
def so_dir(formats_dir, tmp_path_factory):
    dst = tmp_path_factory.mktemp("so")
    counts = build_aflw2000_so(formats_dir / "aflw2000", dst)
    return dst, counts


def test_aflw2000_so_writes_five_readable_copies(so_dir, formats_dir):
    dst, counts = so_dir
    src = formats_dir / "aflw2000"
    n = len(list(src.glob("*.mat")))
    assert counts == {p: n for p in SO_PARTS}
    original = {r.image_path.split("/")[-1]: r for r in read_dataset("aflw2000", src, max_angle_deg=None)}
    for part in SO_PARTS:
        for mat in src.glob("*.mat"):
            copy = dst / part / mat.name
            assert filecmp.cmp(mat, copy, shallow=False)  # .mat copied as is: same keys
            assert set(scipy.io.loadmat(copy)) == set(scipy.io.loadmat(mat))
        recs = read_dataset("aflw2000", dst / part, max_angle_deg=None)
        assert len(recs) == n
        for r in recs:
            o = original[r.image_path.split("/")[-1]]
            np.testing.assert_array_equal(r.landmarks, o.landmarks)
            np.testing.assert_array_equal(r.pose, o.pose)


@pytest.mark.parametrize("part", SO_PARTS)
def test_aflw2000_so_blacks_out_only_its_rectangle(so_dir, formats_dir, part):
    dst, _ = so_dir
    for rec in read_dataset("aflw2000", formats_dir / "aflw2000", max_angle_deg=None):
        name = rec.image_path.split("/")[-1]
        before = cv2.imread(rec.image_path).astype(float)
        after = cv2.imread(str(dst / part / name)).astype(float)
        assert after.shape == before.shape
        inside = np.zeros(before.shape[:2], bool)
        fill_rectangle(inside, so_rectangle(square_box(box_from_landmarks(rec.landmarks)), part), 1)
        assert inside.mean() > 0.02
        core = cv2.erode(inside.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        assert after[core].mean() < 3  # black (JPEG ringing only at the edges)
        far = ~cv2.dilate(inside.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
        assert np.abs(after[far] - before[far]).mean() < 3  # re-encoded, otherwise unchanged


@pytest.fixture(scope="module")
def small_300w(faces_300w, tmp_path_factory):
    """Three real AFW faces copied to a scratch folder (image + .pts)."""
    src = tmp_path_factory.mktemp("w300") / "afw"
    src.mkdir()
    for pts in sorted((faces_300w / "afw").glob("*.pts"))[:3]:
        shutil.copy2(pts, src / pts.name)
        shutil.copy2(pts.with_suffix(".jpg"), src / (pts.stem + ".jpg"))
    return src


@pytest.mark.parametrize("style", ["any", "plain", "round"])
def test_masked_300w_masks_the_lower_face_and_keeps_the_labels(small_300w, tmp_path, style):
    dst = tmp_path / "masked"
    assert build_masked_300w(small_300w, dst, seed=0, style=style) == 3
    src_recs = {r.image_path.split("/")[-1]: r for r in read_dataset("300w", small_300w)}
    out = read_dataset("300w", dst)
    assert len(out) == 3
    for r in out:
        name = r.image_path.split("/")[-1]
        assert filecmp.cmp(src_recs[name].attributes["annotation_path"], r.attributes["annotation_path"],
                           shallow=False)
        lm = r.landmarks
        before = cv2.imread(src_recs[name].image_path).astype(float)
        after = cv2.imread(r.image_path).astype(float)

        def change(points):
            xi, yi = np.round(points).astype(int).T
            return np.abs(after[yi, xi] - before[yi, xi]).max(-1)

        # The mouth is covered (a mask colour may come close to one lip pixel, hardly to
        # most of them); the eyes are untouched apart from JPEG noise.
        assert (change(lm[[48, 50, 51, 52, 54, 57, 62, 66]]) > 12).mean() >= 0.75
        assert change(lm[36:48]).mean() < 8
        if style == "round":  # the ellipse leaves the sides of the jaw in view
            assert (change(lm[[0, 1, 15, 16]]) < 8).mean() >= 0.75


def test_an_unknown_mask_style_is_refused_before_anything_is_written(small_300w, tmp_path):
    with pytest.raises(ValueError, match="mask style"):
        build_masked_300w(small_300w, tmp_path / "m", style="plaid")
    assert not (tmp_path / "m").exists()


def test_masked_300w_is_deterministic_per_seed(small_300w, tmp_path):
    build_masked_300w(small_300w, tmp_path / "a", seed=1)
    build_masked_300w(small_300w, tmp_path / "b", seed=1)
    build_masked_300w(small_300w, tmp_path / "c", seed=2)
    names = sorted(p.name for p in (tmp_path / "a").glob("*.jpg"))
    assert len(names) == 3
    assert all(filecmp.cmp(tmp_path / "a" / n, tmp_path / "b" / n, shallow=False) for n in names)
    assert not all(filecmp.cmp(tmp_path / "a" / n, tmp_path / "c" / n, shallow=False) for n in names)


def test_command_line(small_300w, tmp_path, capsys):
    from lponet_tf.data.benchmark_sets import main

    assert main(["masked-300w", str(small_300w), str(tmp_path / "m"), "--style", "surgical"]) == 0
    assert "3 faces written" in capsys.readouterr().out


def _digests(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("where", ["same", "inside", "around"])
def test_a_destination_overlapping_the_source_is_refused_and_the_source_untouched(
        small_300w, where, capsys):
    from lponet_tf.data.benchmark_sets import main

    src = small_300w
    before = _digests(src)
    dst = {"same": src, "inside": src / "masked", "around": src.parent}[where]
    assert main(["masked-300w", str(src), str(dst)]) == 2
    assert "overlaps the source folder" in capsys.readouterr().err
    assert _digests(src) == before and not (src / "masked").exists()


def test_an_earlier_runs_files_are_refused_unless_overwrite(small_300w, formats_dir, tmp_path, capsys):
    from lponet_tf.data.benchmark_sets import main

    dst = tmp_path / "m"
    assert main(["masked-300w", str(small_300w), str(dst), "--seed", "1"]) == 0
    first = _digests(dst)
    assert main(["masked-300w", str(small_300w), str(dst), "--seed", "2"]) == 2
    assert "exists" in capsys.readouterr().err and _digests(dst) == first
    assert main(["masked-300w", str(small_300w), str(dst), "--seed", "1", "--overwrite"]) == 0
    assert _digests(dst) == first                              # same seed, same files
    assert not [p for p in dst.rglob(".*")]                    # no temporary file left
    aflw = tmp_path / "aflw"                                   # a copy: a broken check must not write into the data
    shutil.copytree(formats_dir / "aflw2000", aflw)
    so = tmp_path / "so"
    assert main(["aflw2000-so", str(aflw), str(so)]) == 0
    assert main(["aflw2000-so", str(aflw), str(so)]) == 2
    assert main(["aflw2000-so", str(aflw), str(aflw / "so")]) == 2
    assert not (aflw / "so").exists() and len(read_dataset("aflw2000", aflw, max_angle_deg=None)) == 4


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_file_that_appears_while_it_runs_is_replaced_only_with_overwrite(
        small_300w, tmp_path, monkeypatch, capsys, overwrite):
    from lponet_tf.data import benchmark_sets

    dst = tmp_path / "m"
    checked = benchmark_sets.check_destination

    def check_then_someone_writes(src, dst_, targets, overwrite_=False):
        checked(src, dst_, targets, overwrite_)
        targets[-1].parent.mkdir(parents=True, exist_ok=True)
        targets[-1].write_text("another process's file")   # after the check, before the move
    monkeypatch.setattr(benchmark_sets, "check_destination", check_then_someone_writes)
    argv = ["masked-300w", str(small_300w), str(dst)] + (["--overwrite"] if overwrite else [])
    assert benchmark_sets.main(argv) == (0 if overwrite else 2)
    pts = sorted(dst.rglob("*.pts"))[-1]
    if overwrite:
        assert "another process" not in pts.read_text()
    else:
        assert pts.read_text() == "another process's file"
        assert "was not replaced" in capsys.readouterr().err
    assert not [p for p in dst.rglob(".*")]                    # no temporary file left


# (test_aflw2000_so_blacks_out_only_its_rectangle builds its expectation with
#  fill_rectangle itself, so only this test can see a fill_rectangle bug.)
def test_fill_rectangle_with_a_half_pixel_left_edge():
    from lponet_tf.data.benchmark_sets import fill_rectangle

    img = np.zeros((4, 6), np.uint8)
    fill_rectangle(img, (1.5, 0.5, 4.0, 4.0), 1)  # centres x in {2, 3}, y in {1, 2, 3}
    want = np.zeros((4, 6), np.uint8)
    want[1:4, 2:4] = 1
    np.testing.assert_array_equal(img, want)

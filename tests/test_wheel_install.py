"""The wheel is the whole library: built with `pip wheel`, installed non-editable into a fresh
venv and used from outside the source tree, it trains from a shipped config (by name),
exports int8, evaluates with a shipped eval config (by name) and predicts.

Offline and fast: the fresh venv gets this venv's site-packages for the dependencies through
a .pth path line (a plain path line: the .pth files *in* that folder, among them this
checkout's editable install, are not processed), and the test checks that `lponet_tf`
comes from the wheel.
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import sysconfig
import zipfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
FACES = 40  # 300W faces linked into the test folder (some go to the validation hold-out)


def _run(args, cwd, timeout=300, **kw):
    env = dict(os.environ, PYTHONNOUSERSITE="1")
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(a) for a in args], cwd=str(cwd), capture_output=True, text=True,
                          timeout=timeout, env=env, **kw)
    assert done.returncode == 0, f"{args}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin folder, work folder outside the source tree) with the wheel installed."""
    root = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", root / "dist", REPO], cwd=root)
    wheels = list((root / "dist").glob("lponet_tf-*.whl"))
    assert len(wheels) == 1, wheels
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=root)
    site = pathlib.Path(_run([venv / "bin" / "python", "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             cwd=root).stdout.strip())
    (site / "test_venv_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q",
          "--no-deps", "--no-index", wheels[0]], cwd=root)
    work = root / "work"
    work.mkdir()
    return venv / "bin", work, wheels[0]


def test_the_wheel_holds_every_subpackage_and_the_package_data(installed):
    names = set(zipfile.ZipFile(installed[2]).namelist())
    for package in (REPO / "lponet_tf").rglob("__init__.py"):
        assert package.relative_to(REPO).as_posix() in names, package
    for data in ("lponet_tf/configs/quickstart.yaml", "lponet_tf/configs/stage1.yaml",
                 "lponet_tf/configs/ablation/fpf_full.yaml", "lponet_tf/configs/eval/paper.yaml",
                 "lponet_tf/presets/weights/lponet_lite.weights.npz",
                 "lponet_tf/assets/astronaut.png", "lponet_tf/assets/mean_face_68.npy"):
        assert data in names, data


def test_installed_wheel_trains_exports_evaluates_predicts_and_measures_end_to_end(installed, faces_300w):
    bin_dir, work, _ = installed
    where = _run([bin_dir / "python", "-c", "import lponet_tf, sys; print(lponet_tf.__file__); "
                  "print('tensorflow' in sys.modules)"], cwd=work).stdout.split()
    assert pathlib.Path(where[0]).is_relative_to(bin_dir.parent), where
    assert where[1] == "False", "import lponet_tf imported TensorFlow"

    faces = work / "faces"
    faces.mkdir()
    for pts in sorted((faces_300w / "afw").glob("*.pts"))[:FACES]:
        image = next(p for p in pts.parent.glob(pts.stem + ".*") if p.suffix != ".pts")
        for src in (pts, image):
            (faces / src.name).symlink_to(src)
    lponet = bin_dir / "lponet"
    _run([lponet, "train", "--config", "quickstart", "--data-root", f"300w={faces}",
          "--set", "train.steps=2", "--set", "train.steps_per_epoch=2",
          "--set", "train.batch_size=2", "--set", "model.channels=8",
          "--set", "train.verbose=0", "--output", work / "run"], cwd=work)
    model = work / "run" / "model.keras"
    assert model.is_file()

    _run([lponet, "export", "--model", model, "--format", "tflite", "--quantize", "int8",
          "--data", faces, "--calibration-faces", 8, "--eval-faces", 4,
          "--output", work / "model_int8.tflite"], cwd=work)
    assert (work / "model_int8.tflite").stat().st_size > 0

    _run([lponet, "evaluate", "--model", work / "model_int8.tflite", "--config", "300w_subset",
          "--data-root", f"300w={faces}", "--no-plots", "--output", work / "eval"], cwd=work)
    assert (work / "eval" / "results.json").is_file()

    asset = pathlib.Path(where[0]).parent / "assets" / "astronaut.png"
    _run([lponet, "predict", asset, "--model", work / "model_int8.tflite",
          "--output", work / "pred"], cwd=work)
    result = json.loads((work / "pred" / "astronaut.json").read_text())
    assert "faces" in result

    # The bundled preset end to end (detector -> crop -> model -> decode) from the wheel.
    _run([lponet, "end-to-end", "--data", f"300w={faces}", "--limit", 2,
          "--output", work / "e2e.json"], cwd=work)
    e2e = json.loads((work / "e2e.json").read_text())
    assert e2e["model"] == "bundled preset" and e2e["300w"]["faces"] == 2
    assert e2e["300w"]["found_pct"] == 100.0 and e2e["300w"]["nme_end_to_end"] < 10.0
    same = _run([lponet, "compare", work / "e2e.json", work / "e2e.json"], cwd=work)
    assert "| 300w | nme_true_box ↓ | 2 |" in same.stdout and "too few faces" in same.stdout


def test_an_unknown_config_name_lists_the_shipped_ones(installed):
    bin_dir, work, _ = installed
    done = subprocess.run([str(bin_dir / "lponet"), "train", "--config", "stage_one"],
                          cwd=str(work), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "stage_one" in done.stderr and "stage1" in done.stderr and "quickstart" in done.stderr

#!/usr/bin/env python
"""dlib's 68-point shape predictor on a list of faces (runs inside ``.venv-peers/dlib``).

Started by ``benchmarks/bench_peers.py``; stand-alone use:

    .venv-peers/dlib/bin/python benchmarks/peers/dlib_worker.py faces.npz result.json

Input ``faces.npz`` (written by the driver):
    ``paths``        (N,) image files (read here with ``dlib.load_rgb_image``)
    ``box_<kind>``   (N, 4) float ``x0, y0, x1, y1`` image-pixel face boxes given to the
                     predictor, one array per box kind (e.g. ``box_same``, ``box_tight``)
    ``regions``      (N, R, R, 3) uint8 face-region images (optional): dlib's HOG
                     detector runs on them (its own box, and detection + landmarks timing)
    ``region_to_image`` (N, 2, 3) affine: region pixel -> image pixel

Output JSON:
    ``predictions``  {kind: (N, 68, 2) image pixels} (``hog`` kind: null where no face)
    ``timing``       per-face milliseconds (every repetition of every face; the driver
                     takes medians): ``predictor`` (the ``same`` box), ``hog_detect``,
                     ``hog_detect_predict`` (detector + predictor on the region image)
    ``info``         dlib version, model file, repetitions, CPU affinity

The predictor is single-threaded; thread counts are set by the driver with ``taskset``.
"""
import argparse
import json
import os
import sys
import time

import numpy as np


def rect(box):
    import dlib

    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    return dlib.rectangle(x0, y0, x1, y1)


def points(shape):
    return [[p.x, p.y] for p in shape.parts()]


def affine(m, pts):
    pts = np.asarray(pts, np.float64)
    return pts @ np.asarray(m)[:, :2].T + np.asarray(m)[:, 2]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("faces")
    ap.add_argument("output")
    ap.add_argument("--repeats", type=int, default=20, help="timed calls per face")
    ap.add_argument("--detect-repeats", type=int, default=5,
                    help="timed detector calls per face region")
    ap.add_argument("--upsample", type=int, default=0, help="HOG detector upsampling")
    args = ap.parse_args(argv)

    import dlib
    import face_recognition_models

    model_path = face_recognition_models.pose_predictor_model_location()
    predictor = dlib.shape_predictor(model_path)
    detector = dlib.get_frontal_face_detector()

    data = np.load(args.faces, allow_pickle=False)
    paths = [str(p) for p in data["paths"]]
    kinds = sorted(k[4:] for k in data.files if k.startswith("box_"))
    regions = data["regions"] if "regions" in data.files else None
    to_image = data["region_to_image"] if regions is not None else None

    preds = {k: [] for k in kinds}
    preds_hog, hog_boxes = [], []
    t_pred, t_det, t_detpred = [], [], []
    clock = time.perf_counter
    for i, path in enumerate(paths):
        image = dlib.load_rgb_image(path)
        for kind in kinds:
            preds[kind].append(points(predictor(image, rect(data["box_" + kind][i]))))
        if "same" in kinds:
            r = rect(data["box_same"][i])
            predictor(image, r)  # warm the caches for this image
            for _ in range(args.repeats):
                t0 = clock()
                predictor(image, r)
                t_pred.append((clock() - t0) * 1e3)
        if regions is None:
            continue
        region = np.ascontiguousarray(regions[i])
        dets = detector(region, args.upsample)
        if len(dets):
            # The detection nearest the region centre (the annotated face).
            c = np.array(region.shape[1::-1]) / 2.0
            best = min(dets, key=lambda d: np.hypot(d.center().x - c[0], d.center().y - c[1]))
            corners = affine(to_image[i], [[best.left(), best.top()],
                                           [best.right(), best.bottom()]])
            box = [corners[0, 0], corners[0, 1], corners[1, 0], corners[1, 1]]
            hog_boxes.append(box)
            preds_hog.append(points(predictor(image, rect(box))))
        else:
            hog_boxes.append(None)
            preds_hog.append(None)
        for _ in range(args.detect_repeats):
            t0 = clock()
            dets = detector(region, args.upsample)
            t1 = clock()
            if len(dets):
                predictor(region, dets[0])
            t2 = clock()
            t_det.append((t1 - t0) * 1e3)
            if len(dets):
                t_detpred.append((t2 - t0) * 1e3)

    if regions is not None:
        preds["hog"] = preds_hog
    result = {
        "predictions": preds,
        "hog_boxes": hog_boxes if regions is not None else None,
        "timing": {"predictor": t_pred, "hog_detect": t_det, "hog_detect_predict": t_detpred},
        "info": {
            "dlib": dlib.__version__,
            "model": os.path.basename(model_path),
            "model_bytes": os.path.getsize(model_path),
            "faces": len(paths),
            "repeats": args.repeats,
            "detect_repeats": args.detect_repeats,
            "upsample": args.upsample,
            "region_size": None if regions is None else int(regions.shape[1]),
            "cpus": sorted(os.sched_getaffinity(0)),
            "dlib_uses_avx": bool(getattr(dlib, "USE_AVX_INSTRUCTIONS", False)),
            "python": sys.version.split()[0],
        },
    }
    with open(args.output, "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())

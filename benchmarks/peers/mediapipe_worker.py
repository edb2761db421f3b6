#!/usr/bin/env python
"""MediaPipe Face Mesh (468 landmarks) on a list of face images (runs inside
``.venv-peers/mediapipe``, mediapipe 0.10.21, which bundles its face models).

Started by ``benchmarks/bench_peers.py``; stand-alone use:

    .venv-peers/mediapipe/bin/python benchmarks/peers/mediapipe_worker.py faces.npz out.json

Input ``faces.npz``: ``regions`` (N, R, R, 3) uint8 RGB face-region images (the face in
the middle, about half the width).

Two modes of ``mp.solutions.face_mesh.FaceMesh`` (``refine_landmarks=False``: the
468-point ``face_landmark.tflite``; with ``max_num_faces=1``):

* ``detect_landmarks`` — ``static_image_mode=True``: every call runs the BlazeFace
  short-range detector and then the landmark model (a photo, or a video without tracking).
* ``tracking`` — ``static_image_mode=False``: the graph takes the face region from the
  previous frame's landmarks and skips detection, as in a video. Each face image is fed
  ``1 + repeats`` times in a row and only the calls after the first are timed, so each
  timed call is the landmark model plus MediaPipe's ROI warp and graph overhead (the
  "landmark-only" figure MediaPipe quotes for video).

Output JSON: ``timing`` {mode: [ms per call ...]}, ``found`` {mode: faces with landmarks},
``info``. No landmark accuracy: the 468 mesh points are not the iBUG 68.

MediaPipe has no thread setting in this API: the driver restricts the process to 1 or 2
CPU cores with ``taskset``.
"""
import argparse
import json
import os
import sys
import time

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("faces")
    ap.add_argument("output")
    ap.add_argument("--repeats", type=int, default=10, help="timed calls per face and mode")
    ap.add_argument("--modes", default="detect_landmarks,tracking")
    args = ap.parse_args(argv)

    import mediapipe as mp

    regions = np.load(args.faces, allow_pickle=False)["regions"]
    face_mesh = mp.solutions.face_mesh
    clock = time.perf_counter
    timing, found = {}, {}
    for mode in args.modes.split(","):
        static = {"detect_landmarks": True, "tracking": False}[mode]
        times, hits = [], 0
        with face_mesh.FaceMesh(static_image_mode=static, max_num_faces=1,
                                refine_landmarks=False,
                                min_detection_confidence=0.5,
                                min_tracking_confidence=0.5) as mesh:
            mesh.process(np.ascontiguousarray(regions[0]))  # graph start-up, untimed
            for region in regions:
                region = np.ascontiguousarray(region)
                if not static:
                    res = mesh.process(region)  # first frame of this face: may detect
                for _ in range(args.repeats):
                    t0 = clock()
                    res = mesh.process(region)
                    times.append((clock() - t0) * 1e3)
                if res.multi_face_landmarks:
                    hits += 1
                    assert len(res.multi_face_landmarks[0].landmark) == 468
        timing[mode], found[mode] = times, hits

    module_dir = os.path.join(os.path.dirname(mp.__file__), "modules")
    models = {}
    for sub, name in (("face_landmark", "face_landmark.tflite"),
                      ("face_detection", "face_detection_short_range.tflite")):
        p = os.path.join(module_dir, sub, name)
        if os.path.isfile(p):
            models[name] = {"path": p, "bytes": os.path.getsize(p)}
    result = {
        "timing": timing,
        "found": found,
        "info": {
            "mediapipe": mp.__version__,
            "numpy": np.__version__,
            "faces": int(len(regions)),
            "region_size": int(regions.shape[1]),
            "repeats": args.repeats,
            "models": models,
            "cpus": sorted(os.sched_getaffinity(0)),
            "python": sys.version.split()[0],
        },
    }
    with open(args.output, "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())

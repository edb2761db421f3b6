"""``lponet predict IMAGE|DIR|VIDEO --output DIR``: annotated pictures (or video) plus JSON.

For an image ``photo.jpg`` it writes ``DIR/photo.png`` (the picture drawn by
:func:`lponet_tf.draw`) and ``DIR/photo.json`` (model, image size and every face's
:meth:`Face.to_dict`). A folder is processed file by file (images with a known suffix,
sorted, not recursive) with a progress bar; a file that fails is reported on one line and
the others still run (exit status 1 then). A video ``clip.mp4`` gives ``DIR/clip.mp4`` (or
``.avi`` when the MPEG-4 writer is unavailable) and ``DIR/clip.json`` with the faces of
every frame, tracked and smoothed (:meth:`FaceAnalyzer.track`).

Outputs never replace an input (refused before any work, whatever the options), and an
output file that already exists is refused unless ``--overwrite`` is given. Each file is
written under a temporary name in ``DIR`` and renamed when complete
(:mod:`lponet_tf.fileio`).

Exit status: 0 all written; 1 some inputs failed (each reported on one line); 2 the model
or the command line is unusable (one-line message from ``lponet``).

Example:
    $ lponet predict lponet_tf/assets/astronaut.png --output out/demo
    astronaut.png: 1 face -> out/demo/astronaut.png, out/demo/astronaut.json
"""
from __future__ import annotations

import functools
import json
import pathlib
import sys
import tempfile
from typing import List, Tuple

from lponet_tf.errors import LPONetError
from lponet_tf.fileio import atomic_write_via, check_outputs, prepare_folder, remove_created

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def add_arguments(parser) -> None:
    """Options of ``lponet predict``."""
    from lponet_tf.inference.analyzer import REFINE_IOU
    from lponet_tf.presets import DEFAULT_PRESET

    parser.add_argument("input", help="an image, a folder of images, or a video file")
    parser.add_argument("--output", dest="out", required=True,
                        help="output folder (created if missing)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace output files that already exist (an input never is)")
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--preset", default=DEFAULT_PRESET,
                     help=f"bundled model to use (default {DEFAULT_PRESET})")
    src.add_argument("--model", help="a .keras, .tflite or .onnx model file instead of a preset")
    parser.add_argument("--backend", default="auto", choices=["auto", "keras", "tflite", "onnx"],
                        help="runtime (default: from the model file)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of the runtime")
    parser.add_argument("--detector", default=None,
                        help="blazeface_confirmed_zoom (the default: back model, unsure "
                             "detections confirmed by the short one, and a second look at the "
                             "image inside a wide border when no face scores >= 0.8), "
                             "blazeface_confirmed (without that second look), blazeface_back, "
                             "blazeface_short, blazeface_full, blazeface_full_sparse or "
                             "blazeface_auto (docs/detection.md)")
    parser.add_argument("--max-faces", type=int, default=10, help="faces per image (default 10)")
    parser.add_argument("--score-threshold", type=float, default=None,
                        help="minimum detector confidence (default: the detector's own)")
    parser.add_argument("--no-smoothing", action="store_true",
                        help="videos: do not smooth landmarks and pose over time")
    parser.add_argument("--no-mask", action="store_true", help="do not draw the mask overlay")
    refine = parser.add_mutually_exclusive_group()
    refine.add_argument("--refine-iou", type=float, default=None, metavar="IOU",
                        help="analyse a face again on its own landmark box when that box "
                             "overlaps its crop's box by less than this IoU, in (0, 1] "
                             f"(default {REFINE_IOU}; higher: better on masked faces, more network "
                             "runs; docs/inference.md)")
    refine.add_argument("--no-refine", action="store_true",
                        help="one network run per detected face, no refinement pass")
    parser.add_argument("--flip-tta", action="store_true",
                        help="flip test-time augmentation: average each face with its mirror "
                             "image (twice the network time; docs/inference.md)")
    parser.add_argument("--flip-label-x-offset", type=float, default=None, metavar="PX",
                        help="with --flip-tta: the model's label x offset in input pixels "
                             "(default: the bundled preset's measured value, else 0)")
    parser.add_argument("--no-candidate-check", action="store_true",
                        help="when the detector finds no face, do not let the network check its "
                             "low-score candidates for occluded faces (docs/detection.md)")
    parser.add_argument("--decode", default=None, choices=["dark", "top2"],
                        help="heatmap decoding: dark (sub-pixel, the default) or top2 (the "
                             "paper's rule); see docs/inference.md")


def _analyzer(args):
    from lponet_tf.inference.analyzer import FaceAnalyzer, FaceAnalyzerOptions

    refine = {} if args.refine_iou is None else {"refine_iou": args.refine_iou}
    try:
        options = FaceAnalyzerOptions(
            model=args.model, preset=args.preset, backend=args.backend, threads=args.threads,
            detector=args.detector, max_faces=args.max_faces,
            score_threshold=args.score_threshold, smoothing=not args.no_smoothing,
            flip_tta=args.flip_tta, flip_label_x_offset=args.flip_label_x_offset,
            decode=args.decode, refine=not args.no_refine,
            candidate_check=not args.no_candidate_check, **refine,
        )
        return FaceAnalyzer.create(options)
    except LPONetError:
        raise  # typed errors (model file, preset) already say what and where
    except ValueError as exc:  # e.g. an unknown detector name or a bad option value
        raise LPONetError(f"invalid option: {exc}") from exc


def _model_info(analyzer) -> dict:
    meta = analyzer.metadata
    return {"preset": meta.preset, "backend": getattr(analyzer.runner, "backend", None),
            "file": getattr(analyzer.runner, "path", None), "input_size": meta.input_size,
            "pose": meta.pose, "quantization": meta.quantization,
            "decode": analyzer.decode_settings.decode, "flip_tta": bool(analyzer.options.flip_tta),
            "refine_iou": analyzer.options.refine_iou if analyzer.options.refine else None,
            "candidate_check": bool(analyzer.options.candidate_check)}


def _write_json(path: pathlib.Path, payload: dict, replace: bool = True) -> None:
    text = json.dumps(payload, indent=1)
    atomic_write_via(path, lambda tmp: pathlib.Path(tmp).write_text(text, encoding="utf-8"),
                     replace)


def _output_stems(files: List[pathlib.Path]) -> List[str]:
    """Output names: the file stem, plus the suffix where two inputs share a stem."""
    stems = [f.stem for f in files]
    return [f"{f.stem}_{f.suffix[1:]}" if stems.count(f.stem) > 1 else f.stem
            for f in files]


def predict_image(analyzer, path: pathlib.Path, out_dir: pathlib.Path, stem: str,
                  draw_mask: bool = True,
                  replace: bool = True) -> Tuple[int, pathlib.Path, pathlib.Path]:
    """Analyse one image file; write ``stem.png`` and ``stem.json`` (``replace=False``: over
    no existing file, :func:`lponet_tf.fileio.move_into_place`). Returns ``(faces, png, json)``."""
    import cv2

    from lponet_tf.codec.image import load_image
    from lponet_tf.visualize import draw

    image = load_image(path)
    faces = analyzer.analyze(image)  # the CLI's analyzer takes RGB (the default)
    png, js = out_dir / f"{stem}.png", out_dir / f"{stem}.json"
    bgr = cv2.cvtColor(draw(image, faces, mask=draw_mask), cv2.COLOR_RGB2BGR)

    def write_png(tmp: str) -> None:
        if not cv2.imwrite(tmp, bgr):
            raise LPONetError(f"{png}: cannot write the annotated picture")

    atomic_write_via(png, write_png, replace)
    _write_json(js, {"image": str(path), "width": int(image.shape[1]),
                     "height": int(image.shape[0]), "model": _model_info(analyzer),
                     "faces": [f.to_dict() for f in faces]}, replace)
    return len(faces), png, js


@functools.lru_cache(maxsize=None)
def video_format() -> Tuple[str, str]:
    """``(suffix, fourcc)`` of the annotated videos: MPEG-4 when this OpenCV build writes
    it, else Motion JPEG. Probed once, in a scratch folder, so output names are known
    before any work."""
    import cv2

    with tempfile.TemporaryDirectory(prefix="lponet_codec_") as tmp:
        for suffix, codec in ((".mp4", "mp4v"), (".avi", "MJPG")):
            writer = cv2.VideoWriter(str(pathlib.Path(tmp) / f"probe{suffix}"),
                                     cv2.VideoWriter_fourcc(*codec), 10.0, (16, 16))
            opened = writer.isOpened()
            writer.release()
            if opened:
                return suffix, codec
    raise LPONetError("OpenCV cannot write videos here (neither mp4v nor MJPG)")


def predict_video(analyzer, path: pathlib.Path, out_dir: pathlib.Path, stem: str,
                  draw_mask: bool = True, replace: bool = True):
    """Track faces through a video; write the annotated video and ``stem.json`` (``replace``
    as in :func:`predict_image`). Returns ``(frames, video_path, json_path)``."""
    import cv2
    from tqdm import tqdm

    from lponet_tf.inference.video import TrackingSession, iter_frames, open_video
    from lponet_tf.visualize import draw

    cap, info = open_video(path)  # a missing, empty or corrupt file fails before any output
    cap.release()
    suffix, codec = video_format()
    video_path = out_dir / f"{stem}{suffix}"
    session, frames = TrackingSession(analyzer), []

    def write_video(tmp: str) -> None:
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*codec), info.fps,
                                 (info.width, info.height))
        if not writer.isOpened():
            raise LPONetError(f"{video_path}: OpenCV cannot write this video ({codec})")
        try:
            for t, rgb in tqdm(iter_frames(path), total=info.frame_count or None,
                               unit="frame", desc=path.name, disable=None, leave=False):
                faces = session.step(rgb, t)
                picture = draw(rgb, faces, mask=draw_mask)
                if picture.shape[:2] != (info.height, info.width):  # odd streams change size
                    picture = cv2.resize(picture, (info.width, info.height))
                writer.write(cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
                frames.append({"timestamp_ms": round(t, 3),
                               "faces": [f.to_dict(include_mask=False) for f in faces]})
        finally:
            writer.release()

    atomic_write_via(video_path, write_video, replace)
    js = out_dir / f"{stem}.json"
    _write_json(js, {"video": str(path), "fps": info.fps, "width": info.width,
                     "height": info.height, "model": _model_info(analyzer), "frames": frames},
                replace)
    return len(frames), video_path, js


def _inputs(root: pathlib.Path) -> Tuple[str, List[pathlib.Path]]:
    from lponet_tf.inference.video import VIDEO_SUFFIXES

    if root.is_dir():
        files = sorted(p for p in root.iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES)
        if not files:
            raise LPONetError(f"{root}: no images or videos in this folder "
                              f"(suffixes {', '.join(IMAGE_SUFFIXES)})")
        return "folder", files
    if not root.exists():
        raise LPONetError(f"{root}: no such file or folder")
    return "file", [root]


def _plan(files: List[pathlib.Path], out_dir: pathlib.Path):
    """``(input, stem, is_video, [output paths])`` per input, named before any work."""
    from lponet_tf.inference.video import VIDEO_SUFFIXES

    plan = []
    for path, stem in zip(files, _output_stems(files)):
        video = path.suffix.lower() in VIDEO_SUFFIXES
        media = f"{stem}{video_format()[0]}" if video else f"{stem}.png"
        plan.append((path, stem, video, [out_dir / media, out_dir / f"{stem}.json"]))
    seen = {}
    for path, _, _, outputs in plan:
        for out in outputs:
            if out in seen:
                raise LPONetError(f"{path} and {seen[out]} would both write {out}; "
                                  "rename one of them")
            seen[out] = path
    return plan


def _error(path, exc: BaseException) -> str:
    """One line for a failed input (typed errors already name the file)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, LPONetError) and str(path) in text:
        return f"lponet predict: error: {text}"
    return f"lponet predict: error: {path}: {type(exc).__name__}: {text}"


def run(args) -> int:
    """Run ``lponet predict``; returns the exit status."""
    import cv2
    from tqdm import tqdm

    # OpenCV logs its own warning for a truncated file; our one-line error says it better.
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

    root = pathlib.Path(args.input)
    kind, files = _inputs(root)
    out_dir = pathlib.Path(args.out)
    plan = _plan(files, out_dir)
    # Before the model loads or anything is written: never an input, and no existing
    # file without --overwrite.
    check_outputs([o for *_, outputs in plan for o in outputs], inputs=[*files, args.model],
                  overwrite=args.overwrite)
    created = prepare_folder(out_dir)
    try:
        analyzer = _analyzer(args)
    except BaseException:
        remove_created(created)
        raise
    failed, written = 0, 0
    bar = tqdm(plan, unit="file", desc="lponet predict",
               disable=None if kind == "folder" else True)
    for path, stem, video, _ in bar:
        try:
            if video:
                n, media, js = predict_video(analyzer, path, out_dir, stem, not args.no_mask,
                                             replace=args.overwrite)
                what = f"{n} frame{'s' * (n != 1)}"
            else:
                n, media, js = predict_image(analyzer, path, out_dir, stem, not args.no_mask,
                                             replace=args.overwrite)
                what = f"{n} face{'s' * (n != 1)}"
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # one bad file must not stop a folder
            failed += 1
            tqdm.write(_error(path, exc), file=sys.stderr)
            continue
        written += 1
        tqdm.write(f"{path.name}: {what} -> {media}, {js}")
    bar.close()
    if not written:
        remove_created(created)  # only folders this run created, and only if still empty
    if kind == "folder":
        print(f"wrote {written} of {len(files)} inputs to {out_dir}"
              + (f" ({failed} failed)" if failed else ""))
    return 1 if failed else 0

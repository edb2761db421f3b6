"""Export reports: one JSON (machine-readable) and one Markdown file per export run.

Example:
    >>> write_report("out/lponet_lite_int8", report)   # doctest: +SKIP
    ('out/lponet_lite_int8.report.md', 'out/lponet_lite_int8.report.json')
"""
from __future__ import annotations

import json
import os
import pathlib
from typing import List, Tuple


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _mark(checks: dict, key: str) -> str:
    if key not in checks:
        return ""
    return " ✓" if checks[key] else " ✗"


def parity_table(records: List[dict]) -> List[str]:
    """Markdown rows: one per export with its size and decoded parity figures."""
    lines = [
        "| export | file | size | landmarks px mean / p95 / max | pose ° mean / max "
        "| mask agreement | NME % (Keras → export) |",
        "|---|---|---:|---|---|---:|---|",
    ]
    for r in records:
        p = r.get("parity")
        size = f"{r['size_bytes'] / 2**20:.2f} MiB"
        name = os.path.basename(r["path"])
        if not p:
            lines.append(f"| {r['label']} | {name} | {size} | | | | |")
            continue
        c = p["checks"]
        nme = (f"{_fmt(p['nme_reference'])} → {_fmt(p['nme_candidate'])} "
               f"(Δ {p['nme_delta']:+.3f}){_mark(c, 'nme_delta')}"
               if p["nme_delta"] is not None else "n/a")
        lines.append(
            f"| {r['label']} | {name} | {size} "
            f"| {_fmt(p['landmark_px_mean'])} / {_fmt(p['landmark_px_p95'])} / "
            f"{_fmt(p['landmark_px_max'], 2)}{_mark(c, 'landmark_px')} "
            f"| {_fmt(p['pose_deg_mean'])} / {_fmt(p['pose_deg_max'], 2)}{_mark(c, 'pose_deg')} "
            f"| {100 * p['mask_agreement']:.2f}%{_mark(c, 'mask_agreement')} | {nme} |"
        )
    return lines


def layer_table(errors: List[dict]) -> List[str]:
    lines = ["| op | Keras layer | tensor | rmse / scale | max abs error | scale |",
             "|---|---|---|---:|---:|---:|"]
    for e in errors:
        tensor = e["tensor"].split(";")[0]
        lines.append(f"| {e['op']} | {e['layer'] or '?'} | `{tensor}` | {e['rmse_over_scale']:.3f} "
                     f"| {e['max_abs_error']:.4g} | {e['scale']:.4g} |")
    return lines


def render_markdown(report: dict) -> str:
    """The Markdown report of :func:`write_report`."""
    lines = [f"# Export report: {report.get('model', 'model')}", ""]
    meta = report.get("metadata", {})
    lines.append(
        f"Input {meta.get('input_size')} px, {meta.get('num_landmarks')} landmarks, "
        f"pose {meta.get('pose')}, preset {meta.get('preset') or 'none'}, "
        f"lponet-tf {meta.get('library_version')}."
    )
    if report.get("eval_faces"):
        calibrated = report.get("calibration_faces")
        lines.append(
            f"Parity on {report['eval_faces']} validation faces of `{report.get('eval_data')}` "
            "(hold-out part 'val')"
            + (f"; int8 calibration on {calibrated} training faces." if calibrated else ".")
        )
    t = report.get("targets")
    if t:
        lines.append(
            f"Targets (int8): landmarks ≤ {t['landmark_px']:.3f} px mean "
            f"(0.5 px at 256 px, scaled), pose ≤ {t['pose_deg']}° mean, mask agreement ≥ "
            f"{100 * t['mask_agreement']:.0f}%, NME ≤ +{t['nme_delta']}; ✓/✗ mark them."
        )
    lines += ["", "## Exports", ""] + parity_table(report["exports"])
    qat = [r for r in report["exports"] if r.get("qat")]
    for r in qat:
        q = r["qat"]
        lines += ["", f"QAT ({os.path.basename(r['path'])}): {q['steps']} steps, batch "
                  f"{q['batch_size']}, lr {q['learning_rate']}, target {q['target']}, on "
                  f"{q['faces']} training faces; loss {_fmt(q['loss_first'])} → "
                  f"{_fmt(q['loss_last'])}; {q['seconds_train']:.0f} s training, "
                  f"{q['seconds_convert']:.0f} s conversion."]
    if report.get("layer_errors"):
        lines += ["", "## Per-layer int8 error (worst first)", "",
                  "Each quantised op against its float twin on the same inputs; rounding "
                  "alone gives rmse/scale ≈ 0.29.", ""] + layer_table(report["layer_errors"])
    if report.get("command"):
        lines += ["", "## Reproduce", "", "```", report["command"], "```"]
    return "\n".join(lines) + "\n"


def write_report(base, report: dict) -> Tuple[str, str]:
    """Write ``base.report.md`` and ``base.report.json``; returns both paths."""
    base = pathlib.Path(base)
    base.parent.mkdir(parents=True, exist_ok=True)
    md_path = base.with_name(base.name + ".report.md")
    json_path = base.with_name(base.name + ".report.json")
    md_path.write_text(render_markdown(report), encoding="utf-8")
    json_path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return str(md_path), str(json_path)

"""Writing a benchmark report: JSON of every figure, markdown tables, plots, contact sheets.

    report/
      report.json        every figure, per frame, per cut, with settings and versions
      report.md          all tables, with the command and the machine
      README_table.md    the headline table and the command that produced it
      plots/             per-frame PSNR and E_warp per cut, fps by resolution (matplotlib)
      contact/           per cut: sketch | each method | ground truth, a few frames

JSON numbers are plain floats; NaN is written as null and infinity as the string "inf".
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import OutputError
from ..io import make_folder, write_image

log = logging.getLogger(__name__)

__all__ = [
    "contact_sheet",
    "headline_markdown",
    "markdown",
    "readme_markdown",
    "real_suite_markdown",
    "to_json",
    "write_plots",
    "write_report",
]

REPORT_FILES = ("report.json", "report.md", "README_table.md")

# ------------------------------------------------------------------------------ JSON


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if isinstance(x, (np.floating, float)):
        v = float(x)
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    if isinstance(x, Path):
        return str(x)
    return x


def to_json(report: dict[str, Any]) -> str:
    """The report as strict JSON (no NaN or Infinity tokens)."""
    return json.dumps(_clean(report), indent=1, allow_nan=False) + "\n"


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write ({e.strerror or e})") from e


# ------------------------------------------------------------------------------ formatting


def _num(v: Any, fmt: str = "{:.2f}", scale: float = 1.0) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    if not math.isfinite(v):
        return "inf" if v > 0 else "-inf"
    return fmt.format(v * scale)


def _pct(v: Any) -> str:
    return _num(v, "{:.1f}%", 100.0)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def _flow_names(summary: dict[str, Any]) -> list[str]:
    for row in summary["rows"].values():
        if "ewarp" in row:
            return list(row["ewarp"])
    return list(summary.get("truth", {}).get("ewarp", {}))


def _size_label(size: Sequence[int]) -> str:
    return f"{size[0]}x{size[1]}"


def _speed_at(report: dict[str, Any], size: tuple[int, int]) -> dict[str, Any] | None:
    for row in report.get("speed") or []:
        if tuple(row["size"]) == size:
            return row
    return None


def _headline_protocol(report: dict[str, Any]) -> str | None:
    for name in ("synthetic", "first-frame", "lineart"):
        if report["protocols"].get(name, {}).get("cases"):
            return name
    return None


def headline_markdown(report: dict[str, Any]) -> str:
    """The short table: TC, PSNR, region accuracy, fps at 720p, x transcode, peak RSS.

    The quality columns come from the synthetic suite when it ran (else the first-frame,
    else the lineart one: E_warp in place of TC, no quality without a truth).
    """
    name = _headline_protocol(report)
    speed = _speed_at(report, (1280, 720))
    memory = report.get("memory")
    peak = None
    if memory and memory.get("runs"):
        peak = max(r["peak_rss_mib"] for r in memory["runs"])
    summary = report["protocols"][name]["summary"]["native"] if name else {"rows": {}, "cuts": 0}
    flows = _flow_names(summary) if name else []
    flow = flows[0] if flows else None
    has_truth = bool(summary.get("truth"))
    quality: list[tuple[str, Any]] = []  # (header, row -> cell)
    if has_truth:
        quality.append((f"TC ({flow} flow)", lambda r: _num(r.get("tc", {}).get(flow), "{:.3f}")))
        quality.append(("PSNR (dB)", lambda r: _num(r.get("psnr"))))
        if name == "synthetic":
            quality.append(("region acc.", lambda r: _pct(r.get("region_accuracy"))))
        else:
            quality.append(("SSIM", lambda r: _num(r.get("ssim"), "{:.3f}")))
    elif name:
        quality.append(
            (f"E_warp x1e3 ({flow})", lambda r: _num(r.get("ewarp", {}).get(flow), "{:.3f}", 1e3))
        )
        quality.append(("CDC", lambda r: _num(r.get("cdc"), "{:.4f}")))
    header = ["method"] + [h for h, _ in quality]
    if speed:
        header += ["fps 1280x720", "x decode+re-encode"]
    if peak is not None:
        header.append("peak RSS")

    def tail(method: str) -> list[str]:
        cells = []
        if speed:
            sp = speed["methods"].get(method)
            cells += (
                [_num(sp["fps"], "{:.1f}"), _num(sp["x_transcode"], "{:.1f}x")]
                if sp
                else [
                    "n/a",
                    "n/a",
                ]
            )
        if peak is not None:
            cells.append(f"{peak:.0f} MiB" if method == "classical" else "not measured")
        return cells

    rows = []
    seen = set()
    for row_name, row in summary["rows"].items():
        if "error" in row:
            rows.append([row_name, row["error"]] + [""] * (len(header) - 2))
            continue
        method = row.get("method", row_name)
        seen.add(method)
        rows.append([row_name] + [cell(row) for _, cell in quality] + tail(method))
    for m in report["methods"]:
        if m["name"] not in seen and speed and m["name"] in speed["methods"]:
            rows.append([m["name"]] + ["n/a"] * len(quality) + tail(m["name"]))
    lines = _table(header, rows)
    notes = []
    if name and has_truth:
        notes.append(
            f"Quality and TC: mean over the {summary['cuts']} cuts of the {name} suite "
            "(reference frame left out of PSNR and accuracy); TC = E_warp(output) / "
            "E_warp(truth) on the same flow and occlusion masks: 1.0 is as stable as the "
            "truth, above 1 flickers more."
        )
    elif name:
        notes.append(
            f"E_warp and CDC: mean over the {summary['cuts']} cuts of the {name} suite "
            "(no ground truth: no TC or quality)."
        )
    if speed:
        notes.append(
            f"Speed: end to end, video file in and out, {speed['frames']} frames at 1280x720; "
            "decode + re-encode of the same clip runs at "
            f"{_num(speed['transcode']['fps'], '{:.1f}')} fps."
        )
    if memory and peak is not None:
        runs = ", ".join(
            f"{r['frames']} frames: {r['peak_rss_mib']:.0f} MiB" for r in memory["runs"]
        )
        notes.append(
            f"Peak RSS of `colorize-video` (classical, the default) on generated "
            f"{_size_label(memory['size'])} cuts, each in a fresh process: {runs}."
        )
    env = report["environment"]
    git = env.get("git") or {}
    commit = git.get("commit", "")[:10] + (" (dirty)" if git.get("dirty") else "") or "n/a"
    notes.append(
        f"celcolor {env['celcolor']}, commit {commit or 'n/a'}; {env.get('cpu') or 'CPU'}, "
        f"{env.get('cpus_usable') or env.get('cpu_count')} cores usable; "
        f"{env['platform']}; Python {env['python']}."
    )
    if _busy(env):
        notes.append(_load_note(env) + ".")
    if report.get("command"):
        notes.append(f"Produced by `{report['command']}`.")
    return "\n".join([*lines, "", *notes]) + "\n"


def _busy(env: dict[str, Any]) -> bool:
    cpus = env.get("cpus_usable") or env.get("cpu_count") or 1
    loads = [env.get("load_average_start"), env.get("load_average_end")]
    return any(load and load[0] > 0.5 * cpus for load in loads)


def _load_note(env: dict[str, Any]) -> str:
    start, end = env.get("load_average_start"), env.get("load_average_end")
    text = (
        f"load average (1 min) {start[0] if start else 'n/a'} at the start, "
        f"{end[0] if end else 'n/a'} at the end"
    )
    if _busy(env):
        text += (
            ": **other work was running on the machine; speed figures are pessimistic and "
            "compare only within this run**"
        )
    return text


def real_suite_markdown(report: dict[str, Any], skip: str | None = None) -> str:
    """Compact tables of the real suites (first-frame and lineart), each on its own
    (``skip``: a protocol already shown elsewhere)."""
    out: list[str] = []
    ff = report["protocols"].get("first-frame")
    if ff and ff["cases"] and skip != "first-frame":
        native = ff["summary"]["native"]
        small = ff["summary"].get("256x256")
        flow = (_flow_names(native) or ["n/a"])[0]
        header = ["method", f"TC ({flow})", "PSNR (dB)", "SSIM"]
        if small:
            header += ["TC @256", "PSNR @256", "SSIM @256"]
        header += ["CDC", "LPIPS"]
        rows = []
        for name, row in native["rows"].items():
            if "error" in row:
                rows.append([name, row["error"]] + [""] * (len(header) - 2))
                continue
            r = [
                name,
                _num(row["tc"].get(flow), "{:.3f}"),
                _num(row.get("psnr")),
                _num(row.get("ssim"), "{:.3f}"),
            ]
            if small:
                srow = small["rows"].get(name, {})
                r += [
                    _num(srow.get("tc", {}).get(flow), "{:.3f}"),
                    _num(srow.get("psnr")),
                    _num(srow.get("ssim"), "{:.3f}"),
                ]
            r += [_num(row.get("cdc"), "{:.4f}"), _num(row.get("lpips"), "{:.3f}")]
            rows.append(r)
        frames = sum(c["frames"] for c in ff["cases"])
        cut = _shot_rule(report)
        out += [
            f"First-frame protocol: {native['cuts']} real colour clips ({frames} frames, at "
            f"most {report['settings']['max_frames']} per clip, {cut}), "
            f"sketches by {_sketch_source(ff['cases'])}, frame 0 the reference; quality "
            "without frame 0; @256: outputs and truth resized to 256x256 (LVCD's size); "
            f"{len(ff.get('skipped', []))} clips skipped (see report.md).",
            "",
            *_table(header, rows),
            "",
        ]
    la = report["protocols"].get("lineart")
    if la and la["cases"] and skip != "lineart":
        summary = la["summary"]["native"]
        flow = (_flow_names(summary) or ["n/a"])[0]
        rows = []
        for name, row in summary["rows"].items():
            if "error" in row:
                rows.append([name, row["error"], "", ""])
                continue
            rows.append(
                [
                    name,
                    _num(row["ewarp"].get(flow), "{:.3f}", 1e3),
                    _num(row.get("cdc"), "{:.4f}"),
                    _num(row.get("fps"), "{:.1f}"),
                ]
            )
        out += [
            f"Line-art protocol: {summary['cuts']} real line-art cuts with a reference, no "
            f"ground truth; E_warp on the input sketches' flow ({flow}).",
            "",
            *_table(["method", "E_warp x1e3", "CDC", "fps (colouring only)"], rows),
            "",
        ]
    return "\n".join(out)


def readme_markdown(report: dict[str, Any]) -> str:
    """The README's benchmark section: the headline table, then the real suites' tables."""
    real = real_suite_markdown(report, skip=_headline_protocol(report))
    return headline_markdown(report) + ("\n" + real if real else "")


def _summary_table(summary: dict[str, Any], *, regions: bool, fps: bool = True) -> list[str]:
    flows = _flow_names(summary)
    has_truth = bool(summary.get("truth"))
    header = ["method"]
    if has_truth:
        header += ["PSNR", "SSIM", "LPIPS"]
        if regions:
            header += ["pixel acc.", "region acc."]
    for f in flows:
        header += [f"E_warp x1e3 ({f})"] + ([f"TC ({f})"] if has_truth else [])
    header += ["CDC"] + (["fps (colouring only)"] if fps else [])
    rows = []
    for name, row in summary["rows"].items():
        if "error" in row:
            rows.append([name, row["error"]] + [""] * (len(header) - 2))
            continue
        r = [name]
        if has_truth:
            r += [
                _num(row.get("psnr")),
                _num(row.get("ssim"), "{:.3f}"),
                _num(row.get("lpips"), "{:.3f}"),
            ]
            if regions:
                r += [_pct(row.get("pixel_accuracy")), _pct(row.get("region_accuracy"))]
        for f in flows:
            r.append(_num(row["ewarp"].get(f), "{:.3f}", 1e3))
            if has_truth:
                r.append(_num(row.get("tc", {}).get(f), "{:.3f}"))
        r.append(_num(row.get("cdc"), "{:.4f}"))
        if fps:
            r.append(_num(row.get("fps"), "{:.1f}"))
        rows.append(r)
    if has_truth:
        t = summary["truth"]
        r = ["*ground truth*"] + ["", "", ""] + (["", ""] if regions else [])
        for f in flows:
            r += [_num(t["ewarp"].get(f), "{:.3f}", 1e3), "1"]
        r.append(_num(t.get("cdc"), "{:.4f}"))
        if fps:
            r.append("")
        rows.append(r)
    return _table(header, rows)


def _per_cut_table(cases: list[dict[str, Any]], scale: str, *, regions: bool) -> list[str]:
    if not cases:
        return []
    flows = list(cases[0]["scores"][scale]["flows"])
    f0 = flows[0]
    has_truth = bool(cases[0]["scores"][scale]["truth"])
    header = ["cut", "frames", "method"]
    if has_truth:
        header += ["PSNR", *(["region acc."] if regions else []), f"TC ({f0})"]
    header += [f"E_warp x1e3 ({f0})", "fps"]
    rows = []
    for case in cases:
        for k, (name, row) in enumerate(case["scores"][scale]["rows"].items()):
            first = [case["name"], str(case["frames"])] if k == 0 else ["", ""]
            if "error" in row:
                rows.append(first + [name, row["error"]] + [""] * (len(header) - 4))
                continue
            r = [*first, name]
            if has_truth:
                r.append(_num(row.get("psnr")))
                if regions:
                    r.append(_pct(row.get("region_accuracy")))
                r.append(_num(row["tc"][f0], "{:.3f}"))
            r += [_num(row["ewarp"][f0], "{:.3f}", 1e3), _num(row.get("fps"), "{:.1f}")]
            rows.append(r)
    return _table(header, rows)


def _speed_tables(report: dict[str, Any]) -> list[str]:
    speed = report.get("speed")
    if not speed:
        return []
    stages = ("lineart", "flow", "snap", "compose")
    out = []
    methods = list(speed[0]["methods"])
    header = ["size", "frames", "decode", "encode", "decode+re-encode"]
    header += [f"{m} end to end" for m in methods] + [f"{m} x transcode" for m in methods]
    rows = []
    for row in speed:
        r = [
            _size_label(row["size"]),
            str(row["frames"]),
            _num(row["decode"]["fps"], "{:.1f}"),
            _num(row.get("encode", {}).get("fps"), "{:.1f}"),
            _num(row["transcode"]["fps"], "{:.1f}"),
        ]
        r += [_num(row["methods"][m]["fps"], "{:.1f}") for m in methods]
        r += [_num(row["methods"][m]["x_transcode"], "{:.1f}x") for m in methods]
        rows.append(r)
    out += ["Frames per second, video file to video file.", ""]
    out += _table(header, rows)
    out += [
        "",
        "Stages, in frames per second: decode (a decode-only pass) and encode (an "
        "encode-only pass of the classical output) alone; the engine's stages from "
        "`RunResult.stage_seconds` of the end-to-end run (they share the CPU with decode "
        "and encode there).",
        "",
    ]
    stage_names = list(stages)
    for row in speed:
        for m in methods:
            for s in row["methods"][m]["stage_fps"]:
                if s not in stage_names:
                    stage_names.append(s)
    header = ["size", "method", "decode", *stage_names, "encode", "end to end"]
    rows = []
    for row in speed:
        for m in methods:
            sf = row["methods"][m]["stage_fps"]
            rows.append(
                [_size_label(row["size"]), m, _num(row["decode"]["fps"], "{:.1f}")]
                + [_num(sf.get(s), "{:.1f}") if s in sf else "-" for s in stage_names]
                + [
                    _num(row.get("encode", {}).get("fps"), "{:.1f}"),
                    _num(row["methods"][m]["fps"], "{:.1f}"),
                ]
            )
    out += _table(header, rows)
    return out


def _memory_table(memory: dict[str, Any] | None) -> list[str]:
    if not memory:
        return []
    rows = [
        [str(r["frames"]), f"{r['peak_rss_mib']:.0f}", _num(r["fps"], "{:.1f}")]
        for r in memory["runs"]
    ]
    out = _table(["frames", "peak RSS (MiB)", "fps"], rows)
    g = memory.get("growth")
    out += [
        "",
        f"Cut size {_size_label(memory['size'])}; each run a fresh `{memory['command']}`; "
        f"Python with celcolor imported peaks at {memory['import_baseline_mib']:.0f} MiB.",
    ]
    if g:
        out.append(
            f"Growth from {g['from_frames']} to {g['to_frames']} frames: {g['mib']:+.1f} MiB "
            f"({g['kib_per_frame']:+.2f} KiB per frame)."
        )
    return out


def _rekeys(cases: list[dict[str, Any]]) -> list[str]:
    """One line per cut and method that re-keyed frames (the temporal network's rows)."""
    out = []
    for case in cases:
        for name, row in case["scores"]["native"]["rows"].items():
            frames = row.get("rekeyed") or []
            if frames:
                shown = ", ".join(map(str, frames[:12])) + (", ..." if len(frames) > 12 else "")
                out.append(f"- {case['name']}, {name}: {len(frames)} ({shown})")
    return out


def _links(cases: list[dict[str, Any]], plots: dict[str, str]) -> list[str]:
    out = []
    for case in cases:
        parts = []
        if case.get("contact_sheet"):
            parts.append(f"[contact sheet]({case['contact_sheet']})")
        key = case.get("plot_key")
        if key and key in plots:
            parts.append(f"[curves]({plots[key]})")
        if parts:
            out.append(f"- {case['name']}: " + ", ".join(parts))
    return out


_PROTOCOL_TITLES = {
    "synthetic": "Synthetic suite (generated cuts, exact ground truth)",
    "first-frame": "First-frame protocol (real colour clips, {sketches}, frame 0 the reference)",
    "lineart": "Line-art protocol (real line-art cuts with a reference, no ground truth)",
}


def _sketch_source(cases: list[dict[str, Any]]) -> str:
    """Where a first-frame suite's sketches came from: XDoG, the clips' own, or both."""
    given = {isinstance(c.get("info", {}).get("sketches"), dict) for c in cases}
    if given == {True}:
        return "their own line art"
    return "XDoG or their own line art" if True in given else "XDoG"


def _shot_rule(report: dict[str, Any]) -> str:
    if report["settings"].get("cut_at_shot_change", True):
        return "cut at the first shot change"
    return "not cut at shot changes"


def _title(name: str, proto: dict[str, Any]) -> str:
    title = _PROTOCOL_TITLES.get(name, name)
    if name == "first-frame":
        title = title.format(sketches=f"sketches by {_sketch_source(proto['cases'])}")
    return title


def markdown(report: dict[str, Any], plots: dict[str, str] | None = None) -> str:
    """The whole report as markdown."""
    plots = plots or {}
    env = report["environment"]
    git = env.get("git") or {}
    out = ["# celcolor benchmark", ""]
    if report.get("command"):
        out += [f"Command: `{report['command']}`", ""]
    out += [
        f"- celcolor {env['celcolor']}, git {git.get('commit', 'n/a')}"
        + (" (uncommitted changes)" if git.get("dirty") else ""),
        f"- {env['platform']}, {env.get('cpu') or 'CPU'}, {env.get('cpu_count')} CPUs "
        f"({env.get('cpus_usable')} usable), {_num(env.get('memory_gib'), '{:.0f}')} GiB; "
        f"Python {env['python']}",
        "- libraries: " + ", ".join(f"{k} {v}" for k, v in env.get("libraries", {}).items()),
        f"- metric flow: {report['metric_flow']}; SSIM: {report.get('ssim', 'n/a')}; "
        f"LPIPS: {report['lpips']['note']}",
        "- run time: "
        + ", ".join(f"{k} {v / 60:.1f} min" for k, v in report.get("timings", {}).items()),
        f"- {_load_note(env)}",
        "",
        "## Headline",
        "",
        headline_markdown(report).rstrip(),
        "",
    ]
    for name, proto in report["protocols"].items():
        out += [f"## {_title(name, proto)}", ""]
        regions = name == "synthetic"
        for scale, summary in proto["summary"].items():
            label = "" if scale == "native" else f" at {scale} (outputs and truth resized)"
            out += [f"Mean over {summary['cuts']} cuts{label}:", ""]
            out += _summary_table(summary, regions=regions and scale == "native")
            out.append("")
        flows = {}
        for case in proto["cases"]:
            flows.update(case["scores"]["native"]["flows"])
        if flows:
            out += ["Flows used by E_warp and TC (one column each, never mixed):", ""]
            out += [f"- `{k}`: {v}" for k, v in flows.items()]
            out.append("")
        out += ["Per cut:", ""]
        out += _per_cut_table(proto["cases"], "native", regions=regions)
        out.append("")
        rekeys = _rekeys(proto["cases"])
        if rekeys:
            out += ["Frames re-coloured from the reference as new keyframes (re-keyed):", ""]
            out += [*rekeys, ""]
        if proto.get("skipped"):
            out += ["Skipped inputs:", ""]
            out += [f"- {s['name']}: {s['reason']}" for s in proto["skipped"]]
            out.append("")
        links = _links(proto["cases"], plots)
        if links:
            out += [*links, ""]
    if report.get("speed"):
        out += ["## Speed", "", *_speed_tables(report), ""]
        if "speed" in plots:
            out += [f"![fps by resolution]({plots['speed']})", ""]
    if report.get("memory"):
        out += ["## Memory", "", *_memory_table(report["memory"]), ""]
    if report.get("failures"):
        out += ["## Failures", ""] + [f"- {f}" for f in report["failures"]] + [""]
    if plots.get("_note"):
        out += [f"_{plots['_note']}_", ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------ plots


def write_plots(report: dict[str, Any], folder: Path) -> dict[str, str]:
    """Per-frame PSNR and E_warp per cut, and fps by resolution; needs matplotlib.

    Returns ``{key: relative path}``; without matplotlib, ``{"_note": why}``.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        note = "plots skipped: matplotlib is not installed (pip install 'celcolor[bench]')"
        log.warning(note)
        return {"_note": note}
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, str] = {}
    for name, proto in report["protocols"].items():
        for case in proto["cases"]:
            scores = case["scores"]["native"]
            flows = list(scores["flows"])
            has_psnr = any("psnr" in r.get("per_frame", {}) for r in scores["rows"].values())
            fig, axes = plt.subplots(1, 2 if has_psnr else 1, figsize=(11 if has_psnr else 6, 3.4))
            axes = list(np.atleast_1d(axes))
            ax_e = axes[-1]
            for row, r in scores["rows"].items():
                pf = r.get("per_frame")
                if not pf:
                    continue
                if has_psnr:
                    # The reference frame is given to every method: left out, as in the means.
                    y = np.asarray(pf["psnr"], dtype=float)
                    if 0 <= case["ref_frame"] < len(y):
                        y[case["ref_frame"]] = np.nan
                    axes[0].plot(y, label=row)
                ax_e.plot(np.arange(1, len(pf["ewarp"][flows[0]]) + 1), pf["ewarp"][flows[0]])
            truth = scores.get("truth")
            if truth:
                per = truth["per_pair"]["ewarp"][flows[0]]
                ax_e.plot(np.arange(1, len(per) + 1), per, "k--", label="ground truth")
            if has_psnr:
                axes[0].set(
                    title=f"PSNR per frame (reference frame {case['ref_frame']} left out)",
                    xlabel="frame",
                    ylabel="dB",
                )
                axes[0].legend(fontsize=7)
            ax_e.set(title=f"E_warp per pair ({flows[0]})", xlabel="frame t (pair t-1, t)")
            if truth:
                ax_e.legend(fontsize=7)
            fig.suptitle(f"{name}: {case['name']}", fontsize=10)
            fig.tight_layout()
            rel = f"plots/{name}_{safe_name(case['name'])}.png"
            fig.savefig(folder.parent / rel, dpi=90)
            plt.close(fig)
            key = f"{name}/{case['name']}"
            case["plot_key"] = key
            out[key] = rel
    speed = report.get("speed")
    if speed:
        fig, ax = plt.subplots(figsize=(8.5, 4))
        labels = [_size_label(r["size"]) for r in speed]
        x = np.arange(len(speed))
        series = {
            "decode": [r["decode"]["fps"] for r in speed],
            "encode": [r.get("encode", {}).get("fps") for r in speed],
            "decode+re-encode": [r["transcode"]["fps"] for r in speed],
        }
        for m in speed[0]["methods"]:
            series[f"{m} (end to end)"] = [r["methods"][m]["fps"] for r in speed]
        for label, ys in series.items():
            ax.plot(x, [np.nan if y is None else y for y in ys], marker="o", label=label)
        ax.set_xticks(x, labels)
        ax.set_yscale("log")
        ax.set(title="frames per second by resolution", ylabel="fps (log)")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.tight_layout()
        fig.savefig(folder / "speed_fps.png", dpi=90)
        plt.close(fig)
        out["speed"] = "plots/speed_fps.png"
    return out


def safe_name(name: str) -> str:
    """A cut's name as a file name."""
    return "".join(c if c.isalnum() or c in "-_.@" else "_" for c in name)


# ------------------------------------------------------------------------------ contact sheets

_LABEL_W = 210
_HEADER_H = 42
_TILE_W = 256


def _label(img: np.ndarray, text: str, x: int, y: int, scale: float = 0.45) -> None:
    cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)


def contact_sheet(case: Any, runs: Sequence[Any], frames: Sequence[int], path: Path) -> None:
    """Write a grid: one column per chosen frame; rows sketch, each method, ground truth."""
    w, h = case.size
    tw = min(_TILE_W, w)
    th = max(1, round(h * tw / w))
    rows: list[tuple[str, list[np.ndarray | None]]] = [
        ("sketch", [case.sketches[i] for i in frames])
    ]
    if case.truth is None:
        rows.append(("reference", [case.reference] + [None] * (len(frames) - 1)))
    for run in runs:
        if run.error is not None:
            rows.append((f"{run.row}: failed", [None] * len(frames)))
        else:
            rows.append((run.row, [run.frames[i] for i in frames]))
    if case.truth is not None:
        rows.append(("ground truth", [case.truth[i] for i in frames]))
    sheet = np.full(
        (_HEADER_H + len(rows) * (th + 4), _LABEL_W + len(frames) * (tw + 4), 3), 255, np.uint8
    )
    _label(sheet, f"{case.protocol}: {case.name}", 4, 16)
    for j, i in enumerate(frames):
        tag = f"frame {i}" + (" (ref)" if i == case.ref_frame and case.truth is not None else "")
        _label(sheet, tag, _LABEL_W + j * (tw + 4) + 4, 36)
    for r, (name, tiles) in enumerate(rows):
        y = _HEADER_H + r * (th + 4)
        _label(sheet, name[:30], 4, y + th // 2 + 5)
        for j, tile in enumerate(tiles):
            x = _LABEL_W + j * (tw + 4)
            if tile is None:
                sheet[y : y + th, x : x + tw] = 200
                continue
            if tile.shape[:2] != (th, tw):
                ih, iw = tile.shape[:2]
                s = min(tw / iw, th / ih)
                size = (max(1, round(iw * s)), max(1, round(ih * s)))
                tile = cv2.resize(tile, size, interpolation=cv2.INTER_AREA)
            sheet[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, sheet)


# ------------------------------------------------------------------------------ writing


def check_report_folder(folder: Path, overwrite: bool) -> None:
    """Refuse to write over an earlier report unless asked to; make the folder now, so
    a path that cannot hold one fails before the run."""
    if not overwrite:
        taken = [folder / f for f in REPORT_FILES if (folder / f).exists()]
        if taken:
            raise OutputError(
                f"{taken[0]} already exists: pass --overwrite or choose another -o folder"
            )
    make_folder(folder, "-o")


def write_report(report: dict[str, Any], folder: Path, *, plots: bool = True) -> dict[str, Path]:
    """Write report.json, report.md, README_table.md and the plots into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    plot_paths = write_plots(report, folder / "plots") if plots else {}
    if "_note" in plot_paths:
        report["plots_note"] = plot_paths["_note"]
    report["plots"] = {k: v for k, v in plot_paths.items() if k != "_note"}
    paths = {
        "json": folder / "report.json",
        "markdown": folder / "report.md",
        "table": folder / "README_table.md",
    }
    _write_text(paths["json"], to_json(report))
    _write_text(paths["markdown"], markdown(report, plot_paths))
    _write_text(paths["table"], readme_markdown(report))
    return paths

"""Keyframes coloured from a reference of another drawing: the exemplar network vs the
classical fitted copy, on held-out generated cuts and on real reference/target pairs.

    python benchmarks/bench_exemplar.py                      # shipped weights
    python benchmarks/bench_exemplar.py --checkpoint runs/x/best.safetensors --name x
    python benchmarks/bench_exemplar.py --ablation runs/ablation --name ablation

Rows: the classical copy with the reference fitted by one affine map and with that
fit refined by line flow (``--keyframe-fit``), the network with its colour guide
from either fit, and the region matcher (``--keyframe-mode match``: each region given
the colour of the reference part it matches, from the network's and the copy's votes,
shapes and neighbours), and on generated cuts a ceiling (the truth's own colours
copied onto its drawing: what a perfect choice per region would score); with
``--long-sides``, the network at other working sizes; with
``--ablation DIR``, one network row per ``DIR/*/best.safetensors`` (variants trained
for the same steps by ``runs/ablation/run.sh``).

Writes ``benchmarks/results/exemplar.json`` and ``exemplar.md``, and contact sheets
(reference | sketch | copy | network | region matcher | truth) under ``--sheets`` (default
``report/exemplar``, not committed).

- generated: the held-out presets of ``celcolor.data.synthetic.CUT_PRESETS`` (640x360;
  their seeds are fixed and not drawn by training, which samples seeds at random from
  2**31) plus ``--extra-cuts`` seeded cuts; in each, frame i coloured from the colour of
  frame j with |i - j| >= 12. Scores: region accuracy (share of non-line pixels within
  10 levels of the truth), PSNR, with ``lines="auto"``.
- real: ATD-12K triplets in ``silenye+Colorization`` (frame1 colour -> frame2, with its
  provided line art ``frame2_edge.jpg``; colour resized to the line art's size), and
  colour pairs in ``Doubiiu+ToonCrafter/assets`` and ``ali-vilab+MangaNinjia/test_cases``
  (first -> second, line art by our XDoG extractor). Scores: PSNR, SSIM, LPIPS when
  AlexNet weights are present (else n/a), and region choice: the share of the sketch's
  regions (the engine's) whose commonest reference-palette colour in the output is the
  truth's (pixels under lines do not vote; every region counts alike). Finished frames
  are not flat, so pixel tolerance says little there; this asks whether each region
  got the right paint. Per-pair figures go to the JSON. ``lines="fill"``: the truth's
  lines are painted.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from celcolor.data.synthetic import CUT_PRESETS, CutSpec, render_frame
from celcolor.engine import ColorizeOptions, Colorizer
from celcolor.engine.region_match import commonest_colours
from celcolor.lineart.xdog import sketch_from_colour
from celcolor.metrics import load_lpips, psnr, region_accuracy, ssim

RESULTS = Path(__file__).parent / "results"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# (target, reference) frames: 12 to 16 apart, and 30 to 40 (a colour key of the far end).
PAIRS = ((30, 18), (40, 24), (8, 24), (45, 5), (2, 34))
SHEET = (
    "copy",
    "network",
    "region matcher",
)  # the rows drawn in contact sheets, beside reference and truth


def base_rows(checkpoint: str | None) -> dict[str, dict]:
    """The compared keyframe methods: row name -> ColorizeOptions fields."""
    return {
        "copy (affine fit)": {"keyframe_mode": "copy", "keyframe_fit": "affine"},
        "copy": {"keyframe_mode": "copy"},
        "network (affine guide)": {
            "keyframe_mode": "network", "keyframe_fit": "affine", "checkpoint": checkpoint
        },
        "network": {"keyframe_mode": "network", "checkpoint": checkpoint},
        "region matcher": {"keyframe_mode": "match", "checkpoint": checkpoint},
        # What a user gets: the copy for the keyframe's own drawing, else the records' best.
        "auto": {"keyframe_mode": "auto", "checkpoint": checkpoint},
    }  # fmt: skip


# Not a method: the truth's own colour frame copied onto its drawing (the same drawing,
# so the copy lands exactly), then snapped and lined like every row. What is left
# is what the line extraction, the regions and the line compositing lose: the most a
# perfect choice of colour per region can reach.
CEILING = "ceiling: every region given its true colour"


def _colour(sketch, reference, lines: str, fields: dict) -> np.ndarray:
    options = ColorizeOptions(lines=lines, **fields)
    return next(iter(Colorizer(reference, options).colorize([sketch])))


def generated(
    methods: dict[str, dict], extra: int, sheets: Path | None, ceiling: bool = False
) -> dict:
    specs = list(CUT_PRESETS.items()) + [
        (f"seed{s}", CutSpec(seed=50_000 + s, num_shapes=6, motion=1.5)) for s in range(extra)
    ]
    runs = {**methods, **({CEILING: {"keyframe_mode": "copy"}} if ceiling else {})}
    rows: dict[str, list] = {m: [] for m in runs}
    for name, spec in specs:
        for i, j in PAIRS:
            target, ref = render_frame(spec, i, flow=False), render_frame(spec, j, flow=False)
            outs = {}
            for m, fields in runs.items():
                reference = target.colour if m == CEILING else ref.colour
                out = _colour(target.sketch, reference, "auto", fields)
                acc = region_accuracy(out, target.colour, target.regions, lines=target.lines)
                rows[m].append((acc.pixel, acc.region, psnr(out, target.colour).mean))
                outs[m] = out
            if sheets is not None and (i, j) == PAIRS[0]:
                _sheet(
                    sheets / f"generated_{name}.png",
                    [ref.colour, target.sketch, *(outs[m] for m in SHEET), target.colour],
                )
    return {
        m: {
            "pixel_accuracy": float(np.mean([r[0] for r in v])),
            "region_accuracy": float(np.mean([r[1] for r in v])),
            "psnr": float(np.mean([r[2] for r in v])),
            "n": len(v),
        }
        for m, v in rows.items()
    }


def _keyframe_seconds(col: Colorizer, sketch: np.ndarray) -> float:
    """Seconds for ``col`` to analyse ``sketch`` and colour it as a keyframe."""
    t0 = time.perf_counter()
    col._keyframe(sketch, col.analyse(sketch))
    return time.perf_counter() - t0


def keyframe_speed(checkpoint: str | None, repeat: int = 3, mode: str = "network") -> dict:
    """Seconds to colour one 1280x720 keyframe by the network (or ``mode``) here.

    ``first``: the first keyframe of a cut (loading the weights and encoding the
    reference included); ``keyframe``: each later one (the engine's re-keying), best
    of ``repeat``: analysis, placement, network at its working size, snap and lines
    (with "match": also the flow fit and the region matching).
    """
    spec = CutSpec(width=1280, height=720, num_frames=48, seed=61)
    target, ref = render_frame(spec, 30, flow=False), render_frame(spec, 16, flow=False)
    options = ColorizeOptions(keyframe_mode=mode, checkpoint=checkpoint)
    col = Colorizer(ref.colour, options)
    first = _keyframe_seconds(col, target.sketch)
    again = min(_keyframe_seconds(col, target.sketch) for _ in range(repeat))
    net = col.network()
    return {
        "size": "1280x720",
        "first": first,
        "keyframe": again,
        "network_long_side": net.long_side,
        "bf16": bool(net.bf16),
        "mode": mode,
    }


def real_match_speed(root: Path, checkpoint: str | None, repeat: int = 2) -> dict | None:
    """Seconds to match one keyframe of each real pair, both frames resized to 1280x720
    (best of ``repeat`` after a first run): real palettes are larger than generated ones
    (up to about 100 colours), so the matcher scores many more rows."""
    pairs = real_pairs(root)
    if not pairs:
        return None
    seconds = {}
    for name, ref, sketch, _ in pairs:
        ref = cv2.resize(ref, (1280, 720), interpolation=cv2.INTER_AREA)
        sketch = cv2.resize(sketch, (1280, 720), interpolation=cv2.INTER_AREA)
        col = Colorizer(ref, ColorizeOptions(keyframe_mode="match", checkpoint=checkpoint))
        _keyframe_seconds(col, sketch)
        seconds[name] = min(_keyframe_seconds(col, sketch) for _ in range(repeat))
    times = sorted(seconds.values())
    return {
        "size": "1280x720",
        "median": float(np.median(times)),
        "max": times[-1],
        "per_pair": seconds,
    }


def _read(path: Path) -> np.ndarray:
    return np.ascontiguousarray(cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1])


def real_pairs(root: Path) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(name, reference, sketch, truth) for every real pair found under ``root``."""
    pairs = []
    for d in sorted((root / "silenye+Colorization" / "test_img").glob("*")):
        frames = sorted(d.glob("frame[0-9].jpg"))
        edges = sorted(d.glob("frame*_edge.jpg"))
        if len(frames) < 2 or not edges:
            continue
        edge = _read(edges[0])
        target_name = edges[0].name.replace("_edge", "")
        ref_path = next(f for f in frames if f.name != target_name)
        size = (edge.shape[1], edge.shape[0])
        truth = cv2.resize(_read(d / target_name), size, interpolation=cv2.INTER_AREA)
        ref = cv2.resize(_read(ref_path), size, interpolation=cv2.INTER_AREA)
        pairs.append((f"atd/{d.name}", ref, edge, truth))
    tooncrafter = root / "Doubiiu+ToonCrafter" / "assets"
    for first in sorted(tooncrafter.glob("*_00-00.png")) + sorted(tooncrafter.glob("*_frame1.png")):
        second = Path(str(first).replace("_00-00", "_00-01").replace("_frame1", "_frame3"))
        if second.is_file():
            truth = _read(second)
            pairs.append(
                (f"tooncrafter/{first.stem}", _read(first), sketch_from_colour(truth), truth)
            )
    ninja = root / "ali-vilab+MangaNinjia" / "test_cases"
    if (ninja / "hz0.png").is_file() and (ninja / "hz1.png").is_file():
        truth = _read(ninja / "hz1.png")
        pairs.append(("manganinja/hz", _read(ninja / "hz0.png"), sketch_from_colour(truth), truth))
    return pairs


def region_choice(sketch: np.ndarray, reference: np.ndarray, outs: dict, truth) -> dict:
    """Per output: the share of the sketch's regions whose commonest reference-palette
    colour is the truth's (regions with no visible paint in the truth are not counted)."""
    colorizer = Colorizer(reference, ColorizeOptions(lines="fill", temporal="classical"))
    frame = colorizer.analyse(sketch)

    def commonest(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        regions = frame.regions
        return commonest_colours(
            colorizer.palette, regions.labels, regions.count, image, frame.art.ink_u8
        )

    want, counted = commonest(truth)
    counted[0] = False  # label 0: lines
    return {m: float(np.mean(commonest(o)[0][counted] == want[counted])) for m, o in outs.items()}


def real(root: Path, methods: dict[str, dict], sheets: Path | None) -> dict | None:
    pairs = real_pairs(root) if root.is_dir() else []
    if not pairs:
        return None
    lpips = load_lpips()
    rows: dict[str, list] = {m: [] for m in methods}
    for name, ref, sketch, truth in pairs:
        outs = {m: _colour(sketch, ref, "fill", fields) for m, fields in methods.items()}
        choice = region_choice(sketch, ref, outs, truth)
        for m, out in outs.items():
            rows[m].append(
                (
                    psnr(out, truth).mean,
                    ssim(out, truth).mean,
                    lpips(out, truth).mean if lpips is not None else None,
                    choice[m],
                )
            )
        if sheets is not None:
            _sheet(
                sheets / f"real_{name.replace('/', '_')}.png",
                [ref, sketch, *(outs[m] for m in SHEET), truth],
            )
    summary = {}
    for m, v in rows.items():
        lp = [r[2] for r in v if r[2] is not None]
        summary[m] = {
            "psnr": float(np.mean([r[0] for r in v])),
            "ssim": float(np.mean([r[1] for r in v])),
            "lpips": float(np.mean(lp)) if lp else None,
            "region_choice": float(np.mean([r[3] for r in v])),
            "n": len(v),
            "per_pair": {
                p[0]: {"psnr": r[0], "region_choice": r[3]} for p, r in zip(pairs, v, strict=True)
            },
        }
    summary["pairs"] = [p[0] for p in pairs]
    return summary


def _sheet(path: Path, images: list[np.ndarray]) -> None:
    h = 240
    row = [cv2.resize(im, (round(im.shape[1] * h / im.shape[0]), h)) for im in images]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.concatenate(row, 1)[..., ::-1])


def _generated_table(g: dict, title: str) -> list[str]:
    n = next(iter(g.values()))["n"]
    lines = [
        f"{title} ({n} keyframes, 640x360, references 12-16 and 30-40 frames away):",
        "",
        "| keyframe method | pixel accuracy | region accuracy | PSNR (dB) |",
        "|---|---|---|---|",
    ]
    for m, r in g.items():
        lines.append(
            f"| {m} | {100 * r['pixel_accuracy']:.1f}% | "
            f"{100 * r['region_accuracy']:.1f}% | {r['psnr']:.1f} |"
        )
    return lines


def markdown(res: dict) -> str:
    lines = _generated_table(res["generated"], "Held-out generated cuts")
    if res.get("real"):
        r = res["real"]
        rows = [m for m in r if m != "pairs"]
        lines += [
            "",
            f"Real reference/target pairs ({r[rows[0]]['n']}: ATD-12K triplets, "
            "ToonCrafter and MangaNinjia pairs), `--lines fill`:",
            "",
            "| keyframe method | PSNR (dB) | SSIM | LPIPS | region choice |",
            "|---|---|---|---|---|",
        ]
        for m in rows:
            x = r[m]
            lp = f"{x['lpips']:.3f}" if x["lpips"] is not None else "n/a (no AlexNet weights)"
            lines.append(
                f"| {m} | {x['psnr']:.1f} | {x['ssim']:.3f} | {lp} | "
                f"{100 * x['region_choice']:.1f}% |"
            )
    if res.get("long_sides"):
        lines += ["", *_generated_table(res["long_sides"], "The network's working size")]
    speeds = [res.get("speed"), res.get("match_speed")]
    for sp, how in zip(speeds, ("the network", "the region matcher"), strict=True):
        if not sp:
            continue
        lines += [
            "",
            f"A {sp['size']} keyframe by {how} (network working size long side "
            f"{sp['network_long_side']}, bf16 {'on' if sp['bf16'] else 'off'}): "
            f"{sp['keyframe']:.2f} s each; the first of a cut {sp['first']:.2f} s "
            "(weights loaded, reference encoded).",
        ]
    rs = res.get("real_match_speed")
    if rs:
        over = sum(t > 2.0 for t in rs["per_pair"].values())
        lines += [
            "",
            f"The real pairs' keyframes resized to {rs['size']}, by the region matcher: "
            f"median {rs['median']:.2f} s, the slowest {rs['max']:.2f} s "
            f"({over} of {len(rs['per_pair'])} over 2 s).",
        ]
    return "\n".join(lines) + "\n"


def ablation_rows(folder: Path) -> dict[str, dict]:
    """One network row per trained variant under ``folder`` (``*/best.safetensors``)."""
    return {
        f"network: {ckpt.parent.name}": {"keyframe_mode": "network", "checkpoint": str(ckpt)}
        for ckpt in sorted(folder.glob("*/best.safetensors"))
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=None, help="weights (default: the shipped ones)")
    p.add_argument("--name", default="exemplar", help="results file stem")
    p.add_argument("--extra-cuts", type=int, default=4)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--sheets", type=Path, default=Path("report/exemplar"))
    p.add_argument(
        "--long-sides", type=int, nargs="*", default=[192, 512],
        help="also score the network at these working sizes (long side, pixels)",
    )  # fmt: skip
    p.add_argument(
        "--ablation", type=Path, default=None, metavar="DIR",
        help="instead: the copy and one network row per DIR/*/best.safetensors",
    )  # fmt: skip
    args = p.parse_args()
    t0 = time.perf_counter()
    if args.ablation is not None:
        methods = {"copy": {"keyframe_mode": "copy"}, **ablation_rows(args.ablation)}
        res = {
            "ablation": str(args.ablation),
            "generated": generated(methods, args.extra_cuts, None),
            "real": real(args.data, methods, None),
        }
    else:
        methods = base_rows(args.checkpoint)
        sizes = {
            f"network at long side {n}": {**methods["network"], "network_long_side": n}
            for n in args.long_sides
        }
        res = {
            "checkpoint": args.checkpoint or "shipped",
            "generated": generated(methods, args.extra_cuts, args.sheets, ceiling=True),
            "real": real(args.data, methods, args.sheets),
            "long_sides": generated(sizes, args.extra_cuts, None) if sizes else None,
            "speed": keyframe_speed(args.checkpoint),
            "match_speed": keyframe_speed(args.checkpoint, mode="match"),
            "real_match_speed": real_match_speed(args.data, args.checkpoint),
        }
    res["seconds"] = round(time.perf_counter() - t0, 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(res, indent=2))
    table = markdown(res)
    (RESULTS / f"{args.name}.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()

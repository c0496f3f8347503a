"""Train the region matcher (`colorize-video train matcher`).

Each sample is a keyframe of a generated cut and a colour reference another frame
of that cut, 8 to 45 frames away (pose, depth order and occlusion differ), or a
keyframe of a real colour clip (``../shared/data`` when present: the extractor's
sketch of one frame, another frame of the clip as the reference). The
engine builds its matcher inputs exactly as at run time (:meth:`Colorizer.match_inputs`:
the shipped exemplar network's and the fitted copy's votes, the reference's parts);
each (region, reference colour) row is labelled 1 when that colour is the one the
truth paints most of the region with. Rows weigh the square root of their region's
area: large regions matter more to the picture, small ones are many.

Stage 1 learns from the rows alone. Stage 2 also reads the neighbours' stage-1
beliefs and how much of the frame the other regions claim for each colour (the
engine runs it again on its own beliefs, :data:`region_match.PASSES`); to train it
on beliefs as good as those at run time (not ones the model
has memorised), each half of the samples gets its beliefs from a stage 1 trained
on the other half (two out-of-fold fits per member). The shipped
matcher holds five fits of both stages from different seeds (members, their
probabilities averaged): refits of one recipe agree on generated keyframes to a
point but disagree widely on real frames, and the average is steadier on both
(docs/region-matcher.md). Beside them, boosted trees
(scikit-learn, kept as tensors) learn from 2.5 times as many generated keyframes:
a tree fit costs a fraction of an MLP fit, and the trees gain from the data. The
keyframes are built and the fits run side by side in worker processes, one thread
each (``workers``); the result does not depend on how many. A held-out split from a
disjoint seed scores both stages. Seeds are fixed; losses go to ``log.jsonl``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import multiprocessing as mp
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from ..data.pairs import real_keyframe_triples
from ..data.synthetic import CutSpec, render_frame
from ..engine import ColorizeOptions, Colorizer
from ..engine import region_match as rm
from ..engine.executors import cpu_count
from ..io import make_folder
from ..models.matcher import MatcherConfig, RegionMatcher, pooled
from ..models.registry import save_checkpoint
from ..models.trees import BoostedTrees
from ..progress import progress_bar
from .exemplar import data_root, note_missing_real

log = logging.getLogger(__name__)

REAL_SIZE = (384, 224)  # real keyframes' size (w, h), near the generated ones' 320x192


@dataclass
class MatcherTrainConfig:
    """The recipe (defaults: the shipped one)."""

    out: Path = Path("runs/matcher")
    keyframes: int = 960  # generated (keyframe, reference) samples
    # generated samples the tree members learn from (None: ``tree_data`` times
    # ``keyframes``): the MLPs' and more of the same stream (a tree fit costs a fraction
    # of an MLP's, and trees gain from the data where the MLPs' budget is spent)
    tree_keyframes: int | None = None
    tree_data: float = 2.5

    def tree_count(self) -> int:
        """How many generated keyframes the tree members learn from (0 without trees)."""
        if not self.tree_members:
            return 0
        if self.tree_keyframes is None:
            return round(self.tree_data * self.keyframes)
        return self.tree_keyframes

    real: int = 480  # keyframes of the real colour clips (when the data folder exists)
    data: Path | None = None  # ../shared/data by default
    heldout: int = 64  # from a disjoint seed, for validation
    epochs: int = 60
    hidden: int = 64
    lr: float = 3e-3
    batch: int = 512
    seed: int = 0
    checkpoint: str | None = None  # exemplar weights (None: the shipped ones)
    area_power: float = 0.5  # a row weighs its region's area to this power
    untraced: float = 1 / 3  # share of cuts whose band boundaries are drawn black
    # Share of generated cuts drawn from a wider range of scenes (see _varied_spec), one
    # entry per set of members: each set (``members`` MLPs, ``tree_members`` trees) is
    # the recipe run alone at that share, and the matcher pools every set's members
    # (with as many in each, its probabilities are the sets' mean). The usual range
    # alone (0.0,) was shipped until session 26 (docs/region-matcher.md).
    varied: tuple[float, ...] = (0.0, 0.5)
    members: int = 5  # fits from seeds seed, seed + 1, ... (probabilities averaged)
    tree_members: int = 1  # boosted-tree fits, averaged with the MLPs' mean (0: none)
    tree_iters: int = 300  # boosting rounds (trees) per stage
    tree_leaves: int = 127  # leaves per tree
    tree_weight: float = 0.75  # the trees' share of the probability (the MLPs' is the rest)
    workers: int = 0  # processes fitting stages side by side (0: one per core, at most 8)
    quiet: bool = True


@dataclass
class Sample:
    """One keyframe's candidate rows (stage-1 columns) and what stage 2 needs."""

    inputs: rm.MatchInputs
    rows: np.ndarray
    region: np.ndarray
    colour: np.ndarray
    label: np.ndarray
    weight: np.ndarray
    colours: int


# The size and length of every generated training cut.
_TRAINING_FRAMES = {"width": 320, "height": 192, "num_frames": 64}


def _random_spec(rng: np.random.Generator, untraced: float = 0.0, varied: float = 0.0) -> CutSpec:
    """A training cut: 3 to 7 shapes roaming at 0.8 to 2 (``CutSpec.motion``), or with
    probability ``varied`` one of the wider range of :func:`_varied_spec`; with
    probability ``untraced`` its band boundaries are drawn black."""
    if varied > 0 and rng.random() < varied:  # no draw at 0: older recipes' cuts stay
        return _varied_spec(rng, untraced)
    return CutSpec(
        **_TRAINING_FRAMES,
        seed=int(rng.integers(0, 2**31)),
        num_shapes=int(rng.integers(3, 8)),
        motion=float(rng.uniform(0.8, 2.0)),
        trace_colours=bool(rng.random() >= untraced),
    )


def _varied_spec(rng: np.random.Generator, untraced: float) -> CutSpec:
    """A cut from a wider range of scenes than :func:`_random_spec`: 3 to 12 shapes,
    motion 0.4 to 3, a camera pan over up to two props in 30% of cuts, a rough drawing
    (gaps, boiling and doubled lines, dirt, paper) in 25%, a gradient background in 30%,
    and shapes that never cross in 10%."""
    pan = rng.random() < 0.3
    return CutSpec(
        **_TRAINING_FRAMES,
        seed=int(rng.integers(0, 2**31)),
        num_shapes=int(rng.integers(3, 13)),
        motion=float(rng.uniform(0.4, 3.0)),
        camera_pan=float(rng.uniform(1.0, 4.0)) if pan else 0.0,
        num_props=int(rng.integers(0, 3)) if pan else 0,
        occlusion=bool(rng.random() >= 0.1),
        faults=bool(rng.random() < 0.25),
        background="gradient" if rng.random() < 0.3 else "flat",
        trace_colours=bool(rng.random() >= untraced),
    )


class Workers:
    """Jobs in worker processes (``count`` > 1, spawned) or here, one after another.

    Both the keyframe build and the fits go through one of these, so a training run
    starts its processes once. Every job runs on one thread (:func:`_one_thread`),
    wherever it runs, so the result does not depend on the number of workers.
    """

    def __init__(self, count: int) -> None:
        count = count if count > 0 else min(cpu_count(), 8)
        self.pool = (
            ProcessPoolExecutor(count, mp_context=mp.get_context("spawn")) if count > 1 else None
        )

    def submit(self, fn: Callable, *args) -> Future:
        """Run ``fn(*args)`` in a worker (or here and now); its future."""
        if self.pool is not None:
            return self.pool.submit(fn, *args)
        done: Future = Future()
        done.set_result(fn(*args))
        return done

    def map(self, fn: Callable, jobs: Iterable[tuple]) -> Iterator:
        """``fn(*job)`` for each job, in order: all handed to the workers at once, or
        (no workers) each run here when its result is taken, so a progress bar moves
        and the jobs are read one at a time."""
        if self.pool is None:
            return (fn(*job) for job in jobs)
        futures = [self.pool.submit(fn, *job) for job in jobs]
        return (future.result() for future in futures)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """torch on one thread inside, as before outside: the same arithmetic wherever a
    job runs (a worker process or the parent), so results agree."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _built(results: Iterator[Sample], count: int, quiet: bool, what: str) -> list[Sample]:
    """``results`` gathered in order under a progress bar of ``count``."""
    samples: list[Sample] = []
    update, close = progress_bar(quiet, what, unit="keyframe")
    try:
        for sample in results:
            samples.append(sample)
            update(len(samples), count)
    finally:
        close()
    return samples


def truth_colours(colorizer: Colorizer, inputs: rm.MatchInputs, truth_rgb: np.ndarray, ink):
    """Per region: the palette colour the truth paints most of its visible pixels with."""
    regions = inputs.regions
    return rm.commonest_colours(colorizer.palette, regions.labels, regions.count, truth_rgb, ink)[0]


def sample_from_frames(
    sketch: np.ndarray,
    reference: np.ndarray,
    target: np.ndarray,
    checkpoint: str | None,
    area_power: float = 0.5,
) -> Sample:
    """The matcher's rows for a keyframe ``sketch`` coloured from ``reference``, labelled
    by its colour ``target`` (RGB uint8 frames of one size)."""
    # temporal="classical": only the keyframe is coloured (and auto would log per sample)
    options = ColorizeOptions(checkpoint=checkpoint, temporal="classical")
    colorizer = Colorizer(reference, options)
    frame = colorizer.analyse(sketch)
    inputs = colorizer.match_inputs(sketch, frame)
    inputs.predicted = None  # the rows do not read it; thousands of samples need not hold it
    truth = truth_colours(colorizer, inputs, target, frame.art.ink_u8)
    rows, region, colour = rm.candidate_rows(inputs)
    area = inputs.shapes[region, 0]
    return Sample(
        inputs=inputs,
        rows=rows,
        region=region,
        colour=colour,
        label=(truth[region] == colour).astype(np.float32),
        weight=(area**area_power).astype(np.float32),
        colours=len(colorizer.palette),
    )


def make_sample(
    spec: CutSpec, key: int, ref: int, checkpoint: str | None, area_power: float = 0.5
) -> Sample:
    """The matcher's rows for frame ``key`` of a cut coloured from frame ``ref``."""
    target, reference = render_frame(spec, key, flow=False), render_frame(spec, ref, flow=False)
    return sample_from_frames(
        target.sketch, reference.colour, target.colour, checkpoint, area_power
    )


def _frames_job(sketch, reference, target, checkpoint, area_power) -> Sample:
    with _one_thread():
        return sample_from_frames(sketch, reference, target, checkpoint, area_power)


def _cut_job(spec: CutSpec, key: int, ref: int, checkpoint, area_power) -> Sample:
    with _one_thread():
        return make_sample(spec, key, ref, checkpoint, area_power)


def make_real_samples(
    root: Path,
    count: int,
    seed: int,
    checkpoint: str | None,
    quiet: bool = True,
    area_power: float = 0.5,
    workers: Workers | None = None,
) -> list[Sample]:
    """``count`` keyframes of the real colour clips under ``root`` (none when it is
    absent): :func:`~celcolor.data.pairs.real_keyframe_triples` at 384x224, built on
    ``workers`` (here, one by one, when None)."""
    if not root.is_dir():
        return []
    jobs = (
        (sketch, reference, target, checkpoint, area_power)
        for sketch, reference, target in real_keyframe_triples(root, count, REAL_SIZE, seed)
    )
    results = (workers or Workers(1)).map(_frames_job, jobs)
    return _built(results, count, quiet, "real keyframes")


def make_samples(
    count: int,
    seed: int,
    checkpoint: str | None,
    what: str,
    quiet: bool = True,
    area_power: float = 0.5,
    untraced: float = 0.0,
    workers: Workers | None = None,
    varied: float = 0.0,
) -> list[Sample]:
    """``count`` samples, two keyframes per generated cut, references 8-45 frames away,
    built on ``workers`` (here, one by one, when None); ``untraced`` and ``varied`` as
    :func:`_random_spec` takes them."""
    rng = np.random.default_rng(seed)
    # Every cut and frame pair is drawn first, so the samples do not depend on where
    # or in which order they are built.
    jobs = []
    while len(jobs) < count:
        spec = _random_spec(rng, untraced, varied)
        for _ in range(min(2, count - len(jobs))):
            key = int(rng.integers(0, spec.num_frames))
            gap = int(rng.integers(8, 46))
            # The reference before or after the keyframe, whichever side has room.
            after = key + gap < spec.num_frames and (key - gap < 0 or rng.random() < 0.5)
            ref = key + gap if after else max(key - gap, 0)
            jobs.append((spec, key, ref, checkpoint, area_power))
    return _built((workers or Workers(1)).map(_cut_job, jobs), count, quiet, what)


def _fit_stage(
    stage, rows, labels, weights, cfg: MatcherTrainConfig, logf, name: str, seed: int
) -> None:
    """Fit one stage by weighted binary cross-entropy (AdamW, cosine schedule)."""
    x = torch.from_numpy(rows)
    y = torch.from_numpy(labels)
    w = torch.from_numpy(weights / weights.mean())
    stage.set_standardisation(x)
    opt = torch.optim.AdamW(stage.parameters(), cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs)
    gen = torch.Generator().manual_seed(seed)
    stage.train()
    for epoch in range(cfg.epochs):
        total = 0.0
        for idx in torch.randperm(len(x), generator=gen).split(cfg.batch):
            logits = stage(x[idx])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, y[idx], weight=w[idx]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        logf.write(json.dumps({"stage": name, "epoch": epoch, "loss": total / len(x)}) + "\n")
    stage.eval()


@torch.inference_mode()
def _scores(stage, rows: np.ndarray) -> np.ndarray:
    return torch.sigmoid(stage(torch.from_numpy(rows))).double().numpy()


@torch.inference_mode()
def _model_scores(model: RegionMatcher, rows: np.ndarray, stage: int) -> np.ndarray:
    return model.probabilities(torch.from_numpy(rows), stage).double().numpy()


def _belief(sample: Sample, scores: np.ndarray) -> np.ndarray:
    return rm.beliefs(
        scores, sample.region, sample.colour, sample.inputs.regions.count, sample.colours
    )


def _stage2_rows(sample: Sample, belief: np.ndarray) -> np.ndarray:
    extra = rm.belief_columns(sample.inputs, belief, sample.region, sample.colour)
    return np.concatenate([sample.rows, extra], 1)


def region_choice_accuracy(
    samples: list[Sample], scores: list[np.ndarray], by: str = "area"
) -> float:
    """Mean over keyframes of the share of regions given their true colour, by area
    (``by="area"``) or counting every region alike (``"count"``: the engine's regions,
    the analogue of the benchmark's region accuracy)."""
    out = []
    for s, sc in zip(samples, scores, strict=True):
        belief = _belief(s, sc)
        ids = np.unique(s.region)
        truth = np.zeros(s.inputs.regions.count, np.int64)
        truth[s.region[s.label > 0]] = s.colour[s.label > 0]
        weight = s.inputs.shapes[ids, 0] if by == "area" else np.ones(len(ids))
        out.append(float((weight * (belief[ids].argmax(1) == truth[ids])).sum() / weight.sum()))
    return float(np.mean(out))


RowView = Callable[[np.ndarray], np.ndarray]


def _same(rows: np.ndarray) -> np.ndarray:
    return rows


def _stack(samples: list[Sample], rows: list[np.ndarray]):
    return (
        np.concatenate(rows),
        np.concatenate([s.label for s in samples]),
        np.concatenate([s.weight for s in samples]),
    )


def _fit_job(
    config: MatcherConfig, which: int, state: dict, stack, cfg: MatcherTrainConfig, name, seed
) -> tuple[dict, str]:
    """Fit one stage (``which``: 1 or 2) from its initial ``state``, on one thread;
    returns the fitted state and its log lines. Runs in a worker process or in-process."""
    with _one_thread():
        stage = RegionMatcher(replace(config, members=1)).stage(which)
        stage.load_state_dict(state)
        logf = io.StringIO()
        _fit_stage(stage, *stack, cfg, logf, name, seed)
        return stage.state_dict(), logf.getvalue()


def _fit_trees_job(stack, cfg: MatcherTrainConfig, name: str, seed: int) -> tuple[dict, str]:
    """Fit one stage's boosted trees (scikit-learn, one thread) on ``stack``; returns the
    :class:`BoostedTrees` state and a log line (the weighted training log loss)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    rows, labels, weights = stack
    weights = weights / weights.mean()
    with threadpool_limits(1):  # the same arithmetic wherever it runs
        fit = HistGradientBoostingClassifier(
            max_iter=cfg.tree_iters,
            learning_rate=0.1,
            max_leaf_nodes=cfg.tree_leaves,
            min_samples_leaf=40,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=seed,
        )
        fit.fit(rows, labels, sample_weight=weights)
        p = np.clip(fit.predict_proba(rows)[:, 1], 1e-7, 1 - 1e-7)
    loss = -(weights * (labels * np.log(p) + (1 - labels) * np.log1p(-p))).mean()
    line = {"stage": name, "trees": int(fit.n_iter_), "loss": float(loss)}
    return BoostedTrees.from_sklearn(fit).state_dict(), json.dumps(line) + "\n"


def _trees_from_state(state: dict) -> BoostedTrees:
    trees = BoostedTrees(state["feature"].numel(), state["roots"].numel())
    trees.load_state_dict(state)
    return trees.eval()


class _Job(NamedTuple):
    """A fit under way, and how its result (state, log lines) becomes a module."""

    future: Future
    finish: Callable[[dict], torch.nn.Module]


def _loaded(stage: torch.nn.Module, state: dict) -> torch.nn.Module:
    stage.load_state_dict(state)
    return stage.eval()


class _Fits:
    """Stage fits on ``workers``.

    Each MLP fit starts from the parameters its module was given here, and the tree
    fits draw from their own seeds, so the result does not depend on how many
    workers run or in which order they finish.
    """

    def __init__(self, config: MatcherConfig, cfg: MatcherTrainConfig, logf, workers) -> None:
        self.config, self.cfg, self.logf, self.workers = config, cfg, logf, workers

    def submit(self, stage: torch.nn.Module, which: int, stack, name: str, seed: int) -> _Job:
        """Start a fit of the MLP ``stage`` (pass ``which``) on ``stack`` = (rows,
        labels, weights); returns its job for :meth:`wait`."""
        args = (self.config, which, stage.state_dict(), stack, self.cfg, name, seed)
        return _Job(self.workers.submit(_fit_job, *args), lambda state: _loaded(stage, state))

    def submit_trees(self, stack, name: str, seed: int) -> _Job:
        """Start a boosted-tree fit on ``stack``; returns its job for :meth:`wait`."""
        future = self.workers.submit(_fit_trees_job, stack, self.cfg, name, seed)
        return _Job(future, _trees_from_state)

    def wait(self, jobs: list[_Job]) -> list[torch.nn.Module]:
        """Finish ``jobs``: the fitted modules, in order (their logs written in order)."""
        out = []
        for job in jobs:
            state, lines = job.future.result()
            out.append(job.finish(state))
            self.logf.write(lines)
        return out


def _stage1_stacks(samples: list[Sample], view: RowView):
    """The two out-of-fold stacks (each half of ``samples`` left out in turn) and the
    whole stack, of the stage-1 rows."""
    halves = [[s for j, s in enumerate(samples) if j % 2 != half] for half in (0, 1)]
    folds = [_stack(h, [view(s.rows) for s in h]) for h in halves]
    return folds, _stack(samples, [view(s.rows) for s in samples])


def fit_matcher(
    train: list[Sample],
    cfg: MatcherTrainConfig,
    logf,
    view: RowView = _same,
    workers: Workers | None = None,
    tree_train: list[Sample] | None = None,
    prefix: str = "",
) -> RegionMatcher:
    """Every member's two stages fitted on ``train`` (the tree members' on ``tree_train``
    when given); ``view`` sees every row first (an ablation masks columns there). The
    fits run on ``workers`` (None: a pool of ``cfg.workers`` for this call); their log
    lines are named ``{prefix}m0-stage1`` and so on.

    Stage 2 trains on beliefs as good as those at run time, not ones a stage 1 has
    memorised: each half of ``train`` is scored by a stage 1 fitted on the other half.
    Every member (MLP or trees) has its own two such fits, from its own seed: the
    members then differ in what stage 2 learned from as well as in their starts.
    """
    config = MatcherConfig(features=len(rm.FEATURES), hidden=cfg.hidden, members=cfg.members)
    model = RegionMatcher(config)
    members = model.members()
    # Without tree members there is nothing to stack for them.
    tree_train = train if tree_train is None or not cfg.tree_members else tree_train
    fold_stacks, stack1 = _stage1_stacks(train, view)
    tree_fold_stacks, tree_stack1 = (
        (fold_stacks, stack1) if tree_train is train else _stage1_stacks(tree_train, view)
    )
    # Every module is made (its start drawn) before any fit runs: a fit in-process
    # draws from the same generator, and the starts must not depend on where fits run.
    folds = [[RegionMatcher(replace(config, members=1)).stage1 for _ in (0, 1)] for _ in members]
    trees = range(cfg.tree_members)
    with contextlib.ExitStack() as scope:
        fits = _Fits(config, cfg, logf, workers or scope.enter_context(Workers(cfg.workers)))
        # Every fit that needs nothing else goes first, so the workers never wait.
        fold_jobs = [
            [
                fits.submit(fold, 1, stack, f"{prefix}m{i}-stage1-fold{half}", cfg.seed + i)
                for half, (fold, stack) in enumerate(zip(pair, fold_stacks, strict=True))
            ]
            for i, pair in enumerate(folds)
        ]
        tree_fold_jobs = [
            [
                fits.submit_trees(stack, f"{prefix}t{i}-stage1-fold{half}", cfg.seed + i)
                for half, stack in enumerate(tree_fold_stacks)
            ]
            for i in trees
        ]
        stage1_jobs = [
            fits.submit(m.stage1, 1, stack1, f"{prefix}m{i}-stage1", cfg.seed + i)
            for i, m in enumerate(members)
        ]
        tree1_jobs = [
            fits.submit_trees(tree_stack1, f"{prefix}t{i}-stage1", cfg.seed + i) for i in trees
        ]

        def stage2_stack(pair: list[torch.nn.Module], samples: list[Sample]):
            beliefs = [
                _belief(s, _scores(pair[j % 2], view(s.rows))) for j, s in enumerate(samples)
            ]
            rows2 = [view(_stage2_rows(s, b)) for s, b in zip(samples, beliefs, strict=True)]
            return _stack(samples, rows2)

        stage2_jobs = [
            fits.submit(
                member.stage2,
                2,
                stage2_stack(fits.wait(fold_jobs[i]), train),
                f"{prefix}m{i}-stage2",
                cfg.seed + i,
            )
            for i, member in enumerate(members)
        ]
        tree2_jobs = [
            fits.submit_trees(
                stage2_stack(fits.wait(tree_fold_jobs[i]), tree_train),
                f"{prefix}t{i}-stage2",
                cfg.seed + i,
            )
            for i in trees
        ]
        fits.wait(stage1_jobs + stage2_jobs)
        stage1_trees, stage2_trees = fits.wait(tree1_jobs), fits.wait(tree2_jobs)
    if not cfg.tree_members:
        return model
    shapes = [t.sizes() + u.sizes() for t, u in zip(stage1_trees, stage2_trees, strict=True)]
    full = RegionMatcher(replace(config, trees=shapes, tree_weight=cfg.tree_weight))
    for dst, src in zip(full.members(), members, strict=True):
        dst.stage1.load_state_dict(src.stage1.state_dict())
        dst.stage2.load_state_dict(src.stage2.state_dict())
    for dst, t, u in zip(full.tree_members, stage1_trees, stage2_trees, strict=True):
        dst.stage1.load_state_dict(t.state_dict())
        dst.stage2.load_state_dict(u.state_dict())
    return full.eval()


def heldout_choice(
    model: RegionMatcher, heldout: list[Sample], view: RowView = _same, by: str = "area"
) -> dict:
    """:func:`region_choice_accuracy` (``by``) after pass 1 (stage 1), pass 2 (stage 2)
    and the engine's last pass (``final``, :data:`region_match.PASSES`) on ``heldout``
    (every member's probabilities averaged, as the engine scores)."""

    def scorer(rows: np.ndarray, stage: int) -> np.ndarray:
        return _model_scores(model, view(rows), stage)

    per_pass = [
        [scores for *_, scores in rm.pass_beliefs(scorer, s.inputs, s.colours)] for s in heldout
    ]
    pick = {"stage1": 0, "stage2": 1, "final": rm.PASSES - 1}
    return {
        name: region_choice_accuracy(heldout, [p[i] for p in per_pass], by)
        for name, i in pick.items()
    }


def network_choice(heldout: list[Sample], by: str = "area") -> float:
    """:func:`region_choice_accuracy` (``by``) of the exemplar network's own votes."""
    return region_choice_accuracy(
        heldout, [s.inputs.votes.network[s.region, s.colour] for s in heldout], by
    )


def train_matcher(cfg: MatcherTrainConfig) -> dict:
    """Build the samples, train both stages of every member (one set of members per
    share in ``cfg.varied``), write the checkpoint; returns the summary."""
    t0 = time.perf_counter()
    if not cfg.varied or not all(0.0 <= share <= 1.0 for share in cfg.varied):
        raise ValueError(f"varied must be one or more shares from 0 to 1, got {cfg.varied}")
    make_folder(cfg.out, "--out")
    root = data_root(cfg.data)
    sets: list[RegionMatcher] = []
    build_seconds, rows, tree_rows = 0.0, 0, 0
    # One set of worker processes builds the keyframes, then fits the stages.
    with Workers(cfg.workers) as workers, open(cfg.out / "log.jsonl", "w") as logf:
        # The real keyframes do not depend on the share: built once, shared by every
        # set. The held-out keyframes are of the first set's kind.
        t_build = time.perf_counter()
        real = make_real_samples(
            root, cfg.real, cfg.seed + 1, cfg.checkpoint, cfg.quiet, cfg.area_power, workers
        )
        note_missing_real(cfg.data, cfg.real, len(real), "keyframes")
        heldout = make_samples(
            cfg.heldout,
            10_000 + cfg.seed,
            cfg.checkpoint,
            "held-out keyframes",
            cfg.quiet,
            untraced=cfg.untraced,
            workers=workers,
            varied=cfg.varied[0],
        )
        build_seconds += time.perf_counter() - t_build
        for k, share in enumerate(cfg.varied):
            t_build = time.perf_counter()
            train = make_samples(
                max(cfg.keyframes, cfg.tree_count()),
                cfg.seed,
                cfg.checkpoint,
                "training keyframes",
                cfg.quiet,
                cfg.area_power,
                cfg.untraced,
                workers,
                share,
            )
            build_seconds += time.perf_counter() - t_build
            # The first ``keyframes`` for the MLPs (one seeded stream: the same whatever
            # the count drawn after them), the first ``tree_keyframes`` for the trees.
            mlp_train = train[: cfg.keyframes] + real
            # The same list when the counts agree: fit_matcher then stacks its rows once.
            same = cfg.tree_count() == cfg.keyframes
            tree_train = mlp_train if same else train[: cfg.tree_count()] + real
            rows += sum(len(s.rows) for s in mlp_train)
            tree_rows += sum(len(s.rows) for s in tree_train) if cfg.tree_members else 0
            # Every set starts from the same seed: each is the recipe run alone at its share.
            torch.manual_seed(cfg.seed)
            prefix = f"set{k}-" if len(cfg.varied) > 1 else ""
            fit = fit_matcher(
                mlp_train, cfg, logf, workers=workers, tree_train=tree_train, prefix=prefix
            )
            sets.append(fit)
            del train, mlp_train, tree_train  # the next set's keyframes take their place
    model = sets[0] if len(sets) == 1 else pooled(sets)
    summary = {
        "checkpoint": str(cfg.out / "matcher.safetensors"),
        "seconds": round(time.perf_counter() - t0, 1),
        "heldout_region_choice": {
            "network": network_choice(heldout),
            **heldout_choice(model, heldout),
        },
        "data": {
            "synthetic_keyframes": cfg.keyframes,
            "tree_synthetic_keyframes": cfg.tree_count(),
            "varied": list(cfg.varied),
            "real_keyframes": len(real),
            "real_root": str(root) if real else None,
            "heldout_keyframes": cfg.heldout,
            "rows": rows,
            "tree_rows": tree_rows,
            "build_seconds": round(build_seconds, 1),
            "exemplar": cfg.checkpoint or "shipped",
        },
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()},
    }
    save_checkpoint(model, cfg.out / "matcher.safetensors", "matcher")
    (cfg.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    log.info("held-out region choice: %s", summary["heldout_region_choice"])
    return summary

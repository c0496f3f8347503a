"""Batch layout: which folders and files are cuts, their references, and their outputs.

The tree is made of placeholder files (discovery reads names, not pixels), except where
a fingerprint needs real bytes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from celcolor.engine.batch import BatchOptions, format_plan, plan_batch
from celcolor.engine.batch_layout import discover_cuts, output_name, reference_pin
from celcolor.errors import UsageError


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def frames(folder: Path, n: int = 3, pattern: str = "{:04d}.png") -> list[Path]:
    return [touch(folder / pattern.format(i)) for i in range(n)]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """One folder per layout rule, plus folders that match none."""
    root = tmp_path / "cuts"
    # a folder with one video and ref.*
    touch(root / "ep01" / "c001" / "sketch.mp4")
    touch(root / "ep01" / "c001" / "ref.png")
    # reference.* and key*.*
    touch(root / "ep01" / "c002" / "lines.mov")
    touch(root / "ep01" / "c002" / "reference.jpg")
    touch(root / "ep01" / "c003" / "cut.mkv")
    touch(root / "ep01" / "c003" / "key_colour.png")
    # a folder of frames with a reference pinned to frame 48 among them
    frames(root / "ep02" / "c010", n=60)
    touch(root / "ep02" / "c010" / "ref_0048.png")
    # a folder of frames with key.png
    frames(root / "ep02" / "c011", n=4, pattern="frame_{}.png")
    touch(root / "ep02" / "c011" / "key.png")
    # videos directly under the input with a same-stem reference beside them
    touch(root / "c012.mp4")
    touch(root / "c012.png")
    touch(root / "ep02" / "c013.mov")
    touch(root / "ep02" / "c013.jpg")
    # matches nothing
    frames(root / "noref", n=3)  # frames, no reference
    touch(root / "empty" / "notes.txt")  # no media at all
    touch(root / "lonely.mp4")  # a video with no reference
    touch(root / "two" / "a.mp4")  # two videos, one reference
    touch(root / "two" / "b.mp4")
    touch(root / "two" / "ref.png")
    touch(root / "many" / "x.mp4")  # several references for one video
    touch(root / "many" / "ref.png")
    touch(root / "many" / "key.png")
    touch(root / ".hidden" / "v.mp4")  # hidden: ignored
    touch(root / ".hidden" / "ref.png")
    return root


def by_name(root: Path, refs: Path | None = None):
    layout = discover_cuts(root, refs)
    return {c.name: c for c in layout.cuts}, {s.path: s.reason for s in layout.skipped}


def test_each_rule_finds_its_cut(tree: Path) -> None:
    cuts, _ = by_name(tree)
    assert sorted(cuts) == [
        "c012",
        "ep01/c001",
        "ep01/c002",
        "ep01/c003",
        "ep02/c010",
        "ep02/c011",
        "ep02/c013",
    ]
    c = cuts["ep01/c001"]
    assert (c.kind, c.source.name, c.reference.name, c.ref_frame) == (
        "video",
        "sketch.mp4",
        "ref.png",
        None,
    )
    assert cuts["ep01/c002"].reference.name == "reference.jpg"
    assert cuts["ep01/c003"].reference.name == "key_colour.png"
    loose = cuts["c012"]
    assert (loose.kind, loose.source.name, loose.reference.name) == (
        "video",
        "c012.mp4",
        "c012.png",
    )
    assert cuts["ep02/c013"].reference.name == "c013.jpg"


def test_pinned_reference_is_not_a_frame(tree: Path) -> None:
    cuts, _ = by_name(tree)
    c = cuts["ep02/c010"]
    assert c.kind == "images" and c.ref_frame == 48
    assert c.reference.name == "ref_0048.png"
    assert c.frames is not None and len(c.frames) == 60
    assert all(f.name != "ref_0048.png" for f in c.frames)
    assert [f.name for f in c.frames[:3]] == ["0000.png", "0001.png", "0002.png"]
    d = cuts["ep02/c011"]
    assert d.reference.name == "key.png" and d.ref_frame is None
    assert d.frames is not None and [f.name for f in d.frames] == [
        f"frame_{i}.png" for i in range(4)
    ]


def test_what_matches_no_rule_is_listed_with_a_reason(tree: Path) -> None:
    _, skipped = by_name(tree)
    assert "no reference" in skipped["noref"]
    assert "no video or images" in skipped["empty"]
    assert "no reference" in skipped["lonely.mp4"]
    assert "2 videos in one folder" in skipped["two/a.mp4"]
    assert "2 videos in one folder" in skipped["two/b.mp4"]
    assert "several references" in skipped["many"]
    assert not any(".hidden" in p for p in skipped)


def test_refs_folder_mirrored_and_flat(tmp_path: Path) -> None:
    root, refs = tmp_path / "cuts", tmp_path / "refs"
    frames(root / "ep01" / "c001")  # frames only: reference from --refs (mirrored path)
    touch(root / "ep01" / "c002" / "v.mp4")  # a video folder: reference by base name
    touch(root / "c003.mp4")  # a loose video: reference by its stem
    frames(root / "ep01" / "c004")  # its own key.png, and a --refs entry that wins
    touch(root / "ep01" / "c004" / "key.png")
    touch(refs / "ep01" / "c001.png")
    touch(refs / "c002.png")
    touch(refs / "c003.png")
    touch(refs / "c004.png")
    cuts, skipped = by_name(root, refs)
    assert cuts["ep01/c001"].reference == refs / "ep01" / "c001.png"
    assert cuts["ep01/c002"].reference == refs / "c002.png"
    assert cuts["c003"].reference == refs / "c003.png"
    c4 = cuts["ep01/c004"]
    assert c4.reference == refs / "c004.png"
    assert c4.frames is not None and all(f.name != "key.png" for f in c4.frames)
    assert not skipped


def test_refs_by_base_name_shared_by_two_cuts_is_refused(tmp_path: Path) -> None:
    root, refs = tmp_path / "cuts", tmp_path / "refs"
    frames(root / "ep01" / "c001")
    frames(root / "ep02" / "c001")
    touch(refs / "c001.png")
    cuts, skipped = by_name(root, refs)
    assert not cuts
    assert "would serve 2 cuts" in skipped["ep01/c001"]


def test_cut_folders_do_not_nest(tmp_path: Path) -> None:
    root = tmp_path / "cuts"
    touch(root / "c001" / "sketch.mp4")
    touch(root / "c001" / "reference.png")
    frames(root / "c001" / "sketch")  # e.g. the same cut as frames
    cuts, skipped = by_name(root)
    assert list(cuts) == ["c001"]
    assert "cuts do not nest" in skipped["c001/sketch"]


def test_frames_beside_a_cut_folders_video_are_named_as_not_coloured(tmp_path: Path) -> None:
    root = tmp_path / "cuts"
    touch(root / "c001" / "sketch.mp4")
    touch(root / "c001" / "ref.png")
    frames(root / "c001")  # the same cut exported as frames, beside the video
    cuts, skipped = by_name(root)
    assert cuts["c001"].kind == "video" and cuts["c001"].source.name == "sketch.mp4"
    [reason] = [r for p, r in skipped.items() if p.startswith("c001/")]
    assert "frame images beside the cut's video" in reason and "sketch.mp4 is coloured" in reason


def test_the_input_folder_itself_can_be_a_cut(tmp_path: Path) -> None:
    root = tmp_path / "shot7"
    frames(root)
    touch(root / "ref.png")
    cuts, _ = by_name(root)
    assert list(cuts) == ["shot7"]


def test_reference_names() -> None:
    assert reference_pin(Path("ref.png")) == (True, None)
    assert reference_pin(Path("Reference.JPG")) == (True, None)
    assert reference_pin(Path("keyframe.png")) == (True, None)
    assert reference_pin(Path("key2.png")) == (True, None)
    assert reference_pin(Path("ref_0048.png")) == (True, 48)
    assert reference_pin(Path("key-7.png")) == (True, 7)
    assert reference_pin(Path("0048.png")) == (False, None)
    assert reference_pin(Path("refill_01.png")) == (False, None)


def test_output_names(tree: Path) -> None:
    cuts, _ = by_name(tree)
    assert output_name(cuts["ep01/c001"], None) == "ep01/c001.mp4"
    assert output_name(cuts["ep02/c010"], None) == "ep02/c010"
    assert output_name(cuts["ep02/c010"], "mkv") == "ep02/c010.mkv"
    assert output_name(cuts["c012"], "png") == "c012"


def test_missing_input_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        discover_cuts(tmp_path / "nope")


def test_plan_lists_cuts_references_outputs_and_skips(tree: Path, tmp_path: Path) -> None:
    plan = plan_batch(BatchOptions(tree, tmp_path / "out"))
    text = format_plan(plan)
    assert "ep02/c010" in text and "ref_0048.png" in text and "48" in text
    assert "ep01/c001.mp4" in text and "run: new" in text
    assert "noref" in text and "no reference" in text
    assert not (tmp_path / "out").exists()  # a plan writes nothing


def test_cuts_with_one_name_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "cuts"
    touch(root / "c001.mp4")  # a loose video named c001
    touch(root / "c001.png")
    touch(root / "c001" / "v.mp4")  # a folder cut named c001 too
    touch(root / "c001" / "ref.png")
    cuts, skipped = by_name(root)
    assert not cuts
    assert "2 cuts have this name" in skipped["c001"]


def test_outputs_that_collide_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "cuts"
    touch(root / "ep01.mp4")  # as PNGs -> out/ep01/
    touch(root / "ep01.png")
    frames(root / "ep01" / "c001")  # -> out/ep01/c001/, inside the folder above
    touch(root / "ep01" / "c001" / "ref.png")
    frames(root / "ep02" / "c002")  # no collision
    touch(root / "ep02" / "c002" / "ref.png")
    (tmp_path / "out").mkdir()
    plan = plan_batch(BatchOptions(root, tmp_path / "out", format="png"))
    assert [p.cut.name for p in plan.cuts] == ["ep02/c002"]
    reasons = {s.path: s.reason for s in plan.skipped}
    assert "collides" in reasons["ep01"] and "collides" in reasons["ep01/c001"]


def test_output_inside_input_is_a_usage_error(tree: Path) -> None:
    with pytest.raises(UsageError, match="inside the input"):
        plan_batch(BatchOptions(tree, tree / "out"))
    with pytest.raises(UsageError, match="inside the input"):
        plan_batch(BatchOptions(tree, tree))


def test_output_holding_the_input_is_a_usage_error(tree: Path) -> None:
    """A folder of cuts, or one cut, inside the output folder: refused before planning,
    as the single-cut command refuses (a cut's PNG output could land on another cut)."""
    for src, out in ((tree / "ep01", tree), (tree / "ep01" / "c001", tree / "ep01")):
        with pytest.raises(UsageError, match="lies inside this output folder"):
            plan_batch(BatchOptions(src, out))


def test_png_output_folder_holding_references_is_not_a_cut(tmp_path: Path) -> None:
    """--refs inside a cut's PNG output folder: that cut is refused, as the single-cut
    command refuses an output folder holding its reference (with --overwrite the
    finished cut replaced the folder and another cut's reference was lost)."""
    root, out = tmp_path / "cuts", tmp_path / "out"
    frames(root / "c001")
    touch(root / "c001" / "ref.png")
    touch(root / "c002.mp4")
    refs = out / "c001"
    touch(refs / "c002.png")
    plan = plan_batch(BatchOptions(root, out, refs=refs))
    assert [p.cut.name for p in plan.cuts] == ["c002"]
    reasons = {s.path: s.reason for s in plan.skipped}
    assert "holds" in reasons["c001"] and "a finished cut replaces the folder" in reasons["c001"]
    # --refs the output folder itself: no cut's output holds a reference, all run.
    (refs / "c002.png").rename(out / "c002.png")
    plan = plan_batch(BatchOptions(root, out, refs=out))
    assert sorted(p.cut.name for p in plan.cuts) == ["c001", "c002"]


def test_references_pinned_to_frames_beside_the_cuts_reference_are_its_keys(
    tmp_path: Path,
) -> None:
    """A key per frame the warnings name: ref_0048.png beside ref.png (or ref_0000.png)."""
    root = tmp_path / "cuts"
    touch(root / "mixed" / "v.mp4")
    touch(root / "mixed" / "ref.png")
    touch(root / "mixed" / "ref_0048.png")
    touch(root / "mixed" / "key_12.png")
    frames(root / "pinned", n=60)
    touch(root / "pinned" / "ref_0000.png")
    touch(root / "pinned" / "ref_0030.png")
    touch(root / "twice" / "v.mp4")
    touch(root / "twice" / "ref_0012.png")
    touch(root / "twice" / "key_12.jpg")
    cuts, skipped = by_name(root)
    m = cuts["mixed"]
    assert (m.reference.name, m.ref_frame) == ("ref.png", None)
    assert [(f, p.name) for f, p in m.keys] == [(12, "key_12.png"), (48, "ref_0048.png")]
    assert m.rule == "video + reference + 2 pinned"
    p = cuts["pinned"]
    assert (p.reference.name, p.ref_frame) == ("ref_0000.png", 0)
    assert [(f, q.name) for f, q in p.keys] == [(30, "ref_0030.png")]
    assert p.frames is not None and len(p.frames) == 60  # no reference among the frames
    assert "two references of frame 12" in skipped["twice"]


def test_keys_named_after_a_same_stem_or_refs_cut_are_its_keys(tmp_path: Path) -> None:
    """Cuts with no folder of their own take keys named after them, ``c012_ref_0048.png``,
    beside the video or in --refs; each cut says where its next key goes."""
    root, refs = tmp_path / "cuts", tmp_path / "refs"
    touch(root / "ep01" / "c012.mp4")
    touch(root / "ep01" / "c012.png")
    touch(root / "ep01" / "c012_ref_0048.png")
    touch(root / "ep01" / "c013.mp4")  # pinned keys only: the first is the reference
    touch(root / "ep01" / "c013_key_0030.png")
    touch(root / "ep01" / "c013_ref_0000.png")
    touch(root / "ep01" / "c014.mp4")  # two keys of one frame
    touch(root / "ep01" / "c014_ref_12.png")
    touch(root / "ep01" / "c014-key-0012.jpg")
    touch(root / "ep01" / "c015.mp4")  # two unpinned: the advice names the key's form
    touch(root / "ep01" / "c015.png")
    touch(root / "ep01" / "c015.jpg")
    frames(root / "ep02" / "c001")  # keys in --refs, mirrored and by base name
    touch(root / "ep02" / "c002.mp4")
    touch(refs / "ep02" / "c001.png")
    touch(refs / "ep02" / "c001_ref_0020.png")
    touch(refs / "c002_ref_0000.png")
    touch(refs / "c002_ref_0009.png")
    frames(root / "ep03" / "c001")  # a cut folder: keys beside its reference
    touch(root / "ep03" / "c001" / "ref.png")
    cuts, skipped = by_name(root, refs)

    c12, c13 = cuts["ep01/c012"], cuts["ep01/c013"]
    assert (c12.reference.name, c12.ref_frame) == ("c012.png", None)
    assert [(f, p.name) for f, p in c12.keys] == [(48, "c012_ref_0048.png")]
    assert c12.rule == "video + same-stem reference + 1 pinned"
    assert c12.key_path(7) == root / "ep01" / "c012_ref_0007.png"
    assert (c13.reference.name, c13.ref_frame) == ("c013_ref_0000.png", 0)
    assert [(f, p.name) for f, p in c13.keys] == [(30, "c013_key_0030.png")]
    assert "two references of frame 12" in skipped["ep01/c014"]
    assert "(c015_ref_0048.png)" in skipped["ep01/c015"]

    m, b = cuts["ep02/c001"], cuts["ep02/c002"]
    assert m.reference == refs / "ep02" / "c001.png"
    assert [(f, p.name) for f, p in m.keys] == [(20, "c001_ref_0020.png")]
    assert m.key_path(5) == refs / "ep02" / "c001_ref_0005.png"
    assert (b.reference.name, b.ref_frame) == ("c002_ref_0000.png", 0)
    assert [(f, p.name) for f, p in b.keys] == [(9, "c002_ref_0009.png")]
    assert b.key_path(5) == refs / "c002_ref_0005.png"
    assert b.rule == "video + --refs + 1 pinned"
    assert cuts["ep03/c001"].key_path(5) == root / "ep03" / "c001" / "ref_0005.png"
    assert set(cuts) == {"ep01/c012", "ep01/c013", "ep02/c001", "ep02/c002", "ep03/c001"}

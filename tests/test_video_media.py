"""Video media: the simulator's MP4 clips and the client's checks, posters and previews.

The simulator side (``mjnb.simulator.video``) must make clips a class can tell apart
(motion low vs high, loop, end frame, batch, extend) and the same bytes from the same
inputs; the client side (``mjnb.video``) must refuse anything that is not a whole,
playable MP4 and keep a saved notebook's preview under 150 KB a clip.
"""

from __future__ import annotations

import ast
import base64
import io
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mjnb import video
from mjnb.errors import InvalidArgument, ProviderError, StorageError
from mjnb.simulator import art
from mjnb.simulator import video as sim

SMALL = {"long_side": 128, "fps": 8}  # cheap clips for behaviour tests


def arrays(data: bytes) -> np.ndarray:
    images, _ = sim.decode(data)
    return np.stack([np.asarray(im, dtype=np.float32) for im in images])


def mad(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two frames (or stacks), 0-255."""
    return float(np.abs(a - b).mean())


def motion_of(data: bytes) -> float:
    """Mean absolute difference between consecutive frames."""
    frames = arrays(data)
    return mad(frames[1:], frames[:-1])


@pytest.fixture(scope="module")
def start() -> Image.Image:
    return art.paint_tile("a red fox in a snowy forest at dawn", {}, 42, 1, (384, 384))


@pytest.fixture(scope="module")
def wide() -> Image.Image:
    return art.paint_tile("a lighthouse by the sea at night", {"ar": "16:9"}, 7, 2, (448, 252))


@pytest.fixture(scope="module")
def clip(start: Image.Image) -> bytes:
    return sim.animate_one(start, "a red fox runs", 1, motion="high", **SMALL)


@pytest.fixture()
def clip_file(tmp_path: Path, clip: bytes) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(clip)
    return path


# ------------------------------------------------------------------ simulator clips


def test_clip_size_follows_the_service() -> None:
    assert sim.clip_size((1024, 1024)) == (480, 480)
    assert sim.clip_size((1456, 816)) == (856, 480)  # 16:9 at 480p
    assert sim.clip_size((816, 1456), "720p") == (720, 1284)
    assert sim.clip_size((1456, 816), long_side=256) == (256, 144)
    assert sim.clip_size((1000, 333), long_side=100) == (100, 34)  # even sides for H.264
    with pytest.raises(ValueError, match="resolution"):
        sim.clip_size((100, 100), "4k")


def test_a_clip_is_a_real_h264_mp4_of_about_five_seconds(wide: Image.Image) -> None:
    data = sim.animate_one(wide, "waves roll in", 3, long_side=160, fps=12)
    info = video.probe(data)
    assert (info.codec, info.width, info.height) == ("h264", 160, 90)
    assert info.fps == 12
    assert 4.9 <= info.duration <= 5.2
    assert data[4:8] == b"ftyp" and data.find(b"moov") < data.find(b"mdat")  # plays at once
    # the first frame is the start image, cropped to the clip's shape
    first = np.asarray(video.poster(data), dtype=np.float32)
    expected = np.asarray(wide.resize((160, 90), Image.Resampling.BICUBIC), dtype=np.float32)
    assert mad(first, expected) < 6


def test_high_motion_moves_much_more_than_low(start: Image.Image) -> None:
    low = motion_of(sim.animate_one(start, "a red fox", 5, motion="low", **SMALL))
    high = motion_of(sim.animate_one(start, "a red fox", 5, motion="high", **SMALL))
    print(f"mean frame-to-frame difference: low {low:.2f}, high {high:.2f}")
    assert high > 3 * low
    assert low > 0.2  # low still moves


def test_raw_sways_less(start: Image.Image) -> None:
    wild = motion_of(sim.animate_one(start, "a red fox", 5, motion="high", **SMALL))
    raw = motion_of(sim.animate_one(start, "a red fox", 5, motion="high", raw=True, **SMALL))
    assert raw < wild


def test_loop_ends_on_its_first_frame(start: Image.Image) -> None:
    frames = arrays(sim.animate_one(start, "a red fox", 2, motion="high", loop=True, **SMALL))
    # equal before encoding; H.264 at 128 px leaves a few levels of noise
    assert mad(frames[-1], frames[0]) < 6
    assert mad(frames[len(frames) // 2], frames[0]) > 3 * mad(frames[-1], frames[0])
    free = arrays(sim.animate_one(start, "a red fox", 2, motion="high", **SMALL))
    assert mad(free[-1], free[0]) > 10


def test_end_frame_travels_toward_the_end_image(start: Image.Image, wide: Image.Image) -> None:
    end = art.paint_tile("a blue city at noon", {}, 9, 3, (384, 384))
    frames = arrays(sim.animate_one(start, "into the city", 4, end=end, **SMALL))
    target = np.asarray(end.resize((128, 128), Image.Resampling.BICUBIC), dtype=np.float32)
    distance = [mad(f, target) for f in frames]
    n = len(frames)
    assert distance[0] > 20
    assert distance[0] > distance[n // 3] > distance[2 * n // 3] > distance[-1]
    assert distance[-1] < 7 and distance[0] > 4 * distance[-1]  # codec noise only
    with pytest.raises(ValueError, match="exclude"):
        sim.animate(start, "x", 1, loop=True, end=end, **SMALL)


def test_a_batch_gives_different_clips(start: Image.Image) -> None:
    clips = sim.animate(start, "a red fox", 8, motion="low", batch=4, **SMALL)
    assert len(clips) == 4 and len(set(clips)) == 4
    middles = [arrays(c)[len(arrays(c)) // 2] for c in clips]
    for i in range(4):
        for j in range(i + 1, 4):
            assert mad(middles[i], middles[j]) > 1.5
    assert len(sim.animate(start, "a red fox", 8, batch=2, **SMALL)) == 2
    for bad in ({"batch": 3}, {"motion": "fast"}):
        with pytest.raises(ValueError, match=r"batch|motion"):
            sim.animate(start, "a red fox", 8, **bad)  # type: ignore[arg-type]


def test_words_steer_the_camera(start: Image.Image) -> None:
    """ "pan left" moves the picture one way, "pan right" the other."""
    left = arrays(sim.animate_one(start, "camera pans left", 1, motion="high", **SMALL))
    right = arrays(sim.animate_one(start, "camera pans right", 1, motion="high", **SMALL))
    assert mad(left[-1], right[-1]) > 10


def test_extend_continues_from_the_last_frame(clip: bytes) -> None:
    source = arrays(clip)
    tail = arrays(sim.extend(clip, "keeps running", 1, motion="low", whole=False))
    assert mad(tail[0], source[-1]) < 4
    assert 3.9 <= video.probe(sim.extend(clip, "x", 1, whole=False)).duration <= 4.2

    whole = sim.extend(clip, "keeps running", 1, motion="low")
    info = video.probe(whole)
    assert 8.9 <= info.duration <= 9.3  # 5 s + 4 s, as the service answers
    frames = arrays(whole)
    k = len(source) - 1
    assert mad(frames[k], source[-1]) < 4  # the source, then the continuation
    assert mad(frames[k + 1], source[-1]) < 4
    assert sim.extensions(whole) == 1 and sim.extensions(clip) == 0


def test_extend_stops_after_four_extensions(start: Image.Image) -> None:
    data = sim.animate_one(start, "a fox", 1, long_side=32, fps=2)
    for _ in range(sim.MAX_EXTENSIONS):
        data = sim.extend(data, "a fox", 1)
    assert 20.5 <= video.probe(data).duration <= 21.5
    with pytest.raises(ValueError, match="already extended 4 times"):
        sim.extend(data, "a fox", 1)


def test_same_inputs_same_bytes(start: Image.Image) -> None:
    args = (start, "a red fox", 11)
    one = sim.animate(*args, motion="high", batch=2, **SMALL)
    assert sim.animate(*args, motion="high", batch=2, **SMALL) == one
    assert sim.animate_one(*args, 1, motion="high", **SMALL) == one[1]
    assert sim.animate_one(start, "a red fox", 12, motion="high", **SMALL) != one[0]
    assert sim.extend(one[0], "on", 3) == sim.extend(one[0], "on", 3)


def test_upscale_video(clip: bytes) -> None:
    info = video.probe(sim.upscale(clip))
    assert (info.width, info.height) == (288, 288)  # 1080/480 of 128
    assert info.frames == video.probe(clip).frames


def test_default_simulator_clip_encodes_fast(start: Image.Image) -> None:
    """The default simulator clip (256 px, 12 fps, square: the largest) is timed."""
    times = []
    for motion in ("low", "high"):
        t0 = time.process_time()
        data = sim.animate_one(start, "a red fox", 1, motion=motion, long_side=256, fps=12)
        times.append(time.process_time() - t0)
        print(f"encode {motion}: {times[-1] * 1000:.0f} ms CPU, {len(data):,} bytes")
    assert min(times) < 5.0  # sanity only: the target (< 0.3 s) is in benchmarks/bench_video.py


# ------------------------------------------------------------------ client checks


def test_probe_reads_a_file_and_bytes_alike(clip: bytes, clip_file: Path) -> None:
    assert video.probe(clip_file) == video.probe(clip) == video.probe(str(clip_file))
    info = video.probe(clip)
    assert info.size == (128, 128) and info.frames == 41 and info.bytes == len(clip)


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda d: b"", "0 bytes"),
        (lambda d: b"<!DOCTYPE html><html>link expired</html>", "web page"),
        (lambda d: b'{"error": "not found"}', "JSON"),
        (lambda d: art.to_png(Image.new("RGB", (8, 8))), "an image"),
        (lambda d: b"\x00\x00\x00\x18ftypisom" + b"\x00" * 500, "damaged"),
        (lambda d: d[:300], "no video frames"),
        (lambda d: d[: len(d) // 2], "truncated"),
        (lambda d: d[:-50], "truncated"),
    ],
)
def test_probe_refuses_what_is_not_a_whole_mp4(clip: bytes, mangle, reason: str) -> None:
    bad = mangle(clip)
    with pytest.raises(ProviderError, match=reason) as caught:
        video.probe(bad)
    assert "\n" not in str(caught.value)


def test_a_damaged_cache_file_is_a_storage_error(tmp_path: Path, clip: bytes) -> None:
    path = tmp_path / "half.mp4"
    path.write_bytes(clip[: len(clip) // 2])
    with pytest.raises(StorageError, match=r"half\.mp4 is unusable: truncated"):
        video.probe(path)
    with pytest.raises(StorageError, match="cannot be read"):
        video.poster(tmp_path / "missing.mp4")


def test_an_oversized_video_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.mp4"
    with open(path, "wb") as f:
        f.truncate(video.MAX_VIDEO_BYTES + 1)  # sparse: nothing is written
    with pytest.raises(StorageError, match="limit"):
        video.probe(path)


def test_a_clip_without_frames_is_refused(tmp_path: Path) -> None:
    import av

    path = tmp_path / "empty.mp4"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        container.start_encoding()  # the header, then no frame at all
    with pytest.raises(StorageError, match="no video frames"):
        video.probe(path)


def test_poster_and_evenly_spaced_frames(clip_file: Path, clip: bytes) -> None:
    source = arrays(clip)
    poster = video.poster(clip_file)
    assert poster.mode == "RGB" and poster.size == (128, 128)
    picked = video.frames(clip_file, 5)
    assert len(picked) == 5
    for got, k in zip(picked, (0, 10, 20, 30, 40), strict=True):
        assert mad(np.asarray(got, dtype=np.float32), source[k]) < 0.01
    assert len(video.frames(clip_file, 60)) == 60  # more than it has: repeats, in order
    with pytest.raises(InvalidArgument):
        video.frames(clip_file, 0)


def test_filmstrip_puts_frames_side_by_side(clip_file: Path) -> None:
    strip = video.filmstrip(clip_file, 4, height=64, gap=4)
    assert strip.size == (4 * 64 + 5 * 4, 64 + 8)
    given = video.filmstrip([Image.new("RGB", (32, 16))] * 3, height=16, gap=0)
    assert given.size == (96, 16)


@pytest.mark.parametrize("make", [video.preview_webp, video.preview_gif])
def test_preview_stays_small_and_animates(tmp_path: Path, start: Image.Image, make) -> None:
    data = sim.animate_one(start, "a storm", 3, motion="high", long_side=480, fps=12)
    path = tmp_path / "c.mp4"
    path.write_bytes(data)
    t0 = time.process_time()
    preview = make(path)
    spent = time.process_time() - t0
    with Image.open(io.BytesIO(preview)) as im:
        assert im.n_frames >= 10
        assert max(im.size) <= 256
    print(f"{make.__name__}: {len(preview):,} bytes in {spent * 1000:.0f} ms CPU")
    assert len(preview) <= video.PREVIEW_BYTES
    # in a saved notebook: a JPEG poster and the preview, both base64
    thumb = io.BytesIO()
    video.poster(path).resize((256, 256)).save(thumb, "JPEG", quality=80)
    notebook = base64.b64encode(thumb.getvalue()) + base64.b64encode(preview)
    print(f"notebook bytes for the clip: {len(notebook):,}")
    assert len(notebook) < video.NOTEBOOK_CLIP_BYTES
    tight = make(path, max_bytes=30_000)
    assert len(tight) <= 30_000


# ------------------------------------------------------------------ cheap imports


def test_imports_stay_cheap_and_the_simulator_stays_apart() -> None:
    probe = (
        "import sys, mjnb.video, mjnb.simulator.video; "
        "print(sorted(m for m in ('av', 'pandas', 'ipywidgets') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    tree = ast.parse(Path(sim.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m and m.startswith("mjnb")} - {"mjnb.prompt"}

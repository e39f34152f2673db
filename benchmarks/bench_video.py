"""Benchmark video media: simulator encode time, client probe/poster CPU, bytes per clip.

Run ``python benchmarks/bench_video.py [--quick]``. It times (CPU seconds of this
process, best of ``--repeat``) the simulator encoding one clip at its default size
(256 px long side, 12 fps; square is the largest frame) for motion low and high, one
4 s extension, and (unless ``--quick``) one clip at the real service's 480p and 24 fps.
For each clip it times the client's ``probe`` and ``poster`` (what a finished video
task costs the client) and ``frames(4)``, and measures the MP4's bytes (what the cache
holds) and the animated WebP/GIF preview's bytes (what a saved notebook holds, at most
150 KB a clip). It prints a table and writes ``benchmarks/results/video.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from mjnb import video  # noqa: E402
from mjnb.simulator import art  # noqa: E402
from mjnb.simulator import video as sim  # noqa: E402

RESULTS = HERE / "results" / "video.json"
TARGET_ENCODE_S = 0.3  # the default simulator clip, on one core


def cpu(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best CPU seconds of ``repeat`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.process_time()
        result = fn()
        best = min(best, time.process_time() - t0)
    return best, result


def measure_clip(name: str, make: Callable[[], bytes], repeat: int, folder: Path) -> dict[str, Any]:
    encode_s, data = cpu(make, repeat)
    path = folder / f"{name}.mp4"
    path.write_bytes(data)
    probe_s, info = cpu(lambda: video.probe(path), repeat)
    poster_s, _ = cpu(lambda: video.poster(path), repeat)
    frames_s, _ = cpu(lambda: video.frames(path, 4), repeat)
    webp_s, webp = cpu(lambda: video.preview_webp(path), 1)
    gif_s, gif = cpu(lambda: video.preview_gif(path), 1)
    return {
        "clip": name,
        "size": f"{info.width}x{info.height}",
        "frames": info.frames,
        "fps": info.fps,
        "seconds": info.duration,
        "encode_s": round(encode_s, 3),
        "mp4_bytes": len(data),
        "probe_ms": round(probe_s * 1000, 1),
        "poster_ms": round(poster_s * 1000, 1),
        "probe_poster_ms": round((probe_s + poster_s) * 1000, 1),
        "frames4_ms": round(frames_s * 1000, 1),
        "preview_webp_bytes": len(webp),
        "preview_webp_ms": round(webp_s * 1000),
        "preview_gif_bytes": len(gif),
        "preview_gif_ms": round(gif_s * 1000),
    }


def run(quick: bool, repeat: int) -> dict[str, Any]:
    square = art.paint_tile("a red fox in a snowy forest at dawn", {}, 42, 1, (512, 512))
    wide = art.paint_tile("a lighthouse by the sea", {"ar": "16:9"}, 7, 2, (768, 432))
    default = {"long_side": 256, "fps": 12}
    clips: dict[str, Callable[[], bytes]] = {
        "sim-square-low": lambda: sim.animate_one(square, "a fox", 1, motion="low", **default),
        "sim-square-high": lambda: sim.animate_one(square, "a fox", 1, motion="high", **default),
        "sim-16:9-high": lambda: sim.animate_one(wide, "waves", 1, motion="high", **default),
    }
    base = sim.animate_one(square, "a fox", 1, motion="high", **default)
    clips["sim-extend-whole"] = lambda: sim.extend(base, "runs on", 1, motion="low")
    if not quick:
        clips["real-480p-16:9-24fps"] = lambda: sim.animate_one(wide, "waves", 1, motion="high")
    rows = []
    with tempfile.TemporaryDirectory(prefix="mjnb-bench-video-") as tmp:
        for name, make in clips.items():
            reps = 1 if name.startswith("real") else repeat
            rows.append(measure_clip(name, make, reps, Path(tmp)))
    headline = rows[1]  # the default simulator clip, high motion (the costlier)
    return {
        "clips": rows,
        "encode_s_default_clip": headline["encode_s"],
        "encode_target_s": TARGET_ENCODE_S,
        "encode_within_target": headline["encode_s"] < TARGET_ENCODE_S,
        "client_probe_poster_ms_default_clip": headline["probe_poster_ms"],
        "quick": quick,
        "python": platform.python_version(),
        "av": _av_version(),
        "machine": platform.machine(),
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _av_version() -> str:
    import av

    return str(av.__version__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the full-size 480p clip")
    parser.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
    args = parser.parse_args(argv)
    result = run(args.quick, max(1, args.repeat))
    columns = list(result["clips"][0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in result["clips"])) for c in columns}
    print("  ".join(f"{c:>{widths[c]}}" for c in columns))
    for row in result["clips"]:
        print("  ".join(f"{row[c]!s:>{widths[c]}}" for c in columns))
    for key, value in result.items():
        if key != "clips":
            print(f"{key}: {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

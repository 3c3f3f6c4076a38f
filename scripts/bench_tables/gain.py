"""The issue's plot in one place: every benchmark's `gain` points, ENGINE minus its matched control against how
strong the start was, with the still-encoder pairs under their own names."""

from __future__ import annotations

from .common import load, refined_gap, table

# The benchmarks whose `gain` stage trains ENGINE and its control from CMLMs of several strengths, weakest first.
GAIN_BENCHMARKS = ("bench_", "bench_short_", "bench_labels_")
GAIN_NAMES = {"bench_": "A (all help segments)", "bench_short_": "short (<= 8 words)",
              "bench_labels_": "labels (<= 4 words)"}


STILL_NAMES = {"bench_": "A, still encoder", "bench_labels_": "labels, still encoder"}


def confirm_gain_points(data: dict) -> list[dict]:
    """A `matched_seeds` stage's pairs in the shape of `gain`'s points, one per start and seed."""
    return [{**p, "checkpoint": f"{p['start']}, seed {p['seed']}", "start_bleu": data["starts"][p["start"]]["bleu"],
             "start_chrf": data["starts"][p["start"]]["chrf"]} for p in data["points"]]


def still_gain_points(prefix: str) -> tuple[list[dict], str] | None:
    """Gain points from students trained with the frozen encoder in eval mode (the flaw found late): A's
    `still_main` (one start, one seed) and labels' `still_confirm` (one start, a point per seed), in the shape of
    `gain`'s points, with the command that wrote them."""
    if prefix == "bench_" and (data := load("bench_still_main")) and not data.get("partial"):
        rows = data["rows"]
        start, engine, control = (rows[name]["length beam 3"] for name in ("cmlm_kd_still", "engine_still",
                                                                           "control_still"))
        point = {"checkpoint": "cmlm_kd_still"}
        for who, row in (("start", start), ("engine", engine), ("control", control)):
            for n, suffix in ((1, ""), (10, "_10")):
                for metric in ("bleu", "chrf"):
                    point[f"{who}_{metric}{suffix}"] = row[f"{n}_iterations"]["libreoffice"][metric]
        points, commands = [point], [data["command"]]
        for stage in ("still_seeds", "still_long_seeds", "still_rebuilt"):  # finished pairs, also of a stage running
            if more := load(f"bench_{stage}"):
                points += confirm_gain_points(more)
                commands.append(more["command"])
        return points, "; ".join(commands)
    if prefix == "bench_labels_" and (data := load("bench_labels_still_confirm")) and not data.get("partial"):
        return confirm_gain_points(data), data["command"]
    return None


def gain_points_all() -> list[dict]:
    """Every full-budget gain point of every benchmark, with its benchmark's name, weakest start first; the
    still-encoder points under their own names."""
    points = []
    for prefix in GAIN_BENCHMARKS:
        teacher = load(f"{prefix}teacher")
        if not teacher:
            continue
        teacher_bleu = teacher["greedy"]["libreoffice"]["bleu"]
        found = []
        if gain := load(f"{prefix}gain"):
            found.append((GAIN_NAMES[prefix], gain["points"], gain["command"]))
        if still := still_gain_points(prefix):
            found.append((STILL_NAMES[prefix], *still))
        points += [{**p, "benchmark": name, "command": command, "start_share": p["start_bleu"] / teacher_bleu,
                    "teacher_bleu": teacher_bleu} for name, mine, command in found for p in mine]
    return sorted(points, key=lambda p: p["start_share"])


def section_gain_all() -> str | None:
    """The issue's plot in one place: ENGINE minus its matched control against the start, over all benchmarks.

    Each benchmark scores its own test slice, and BLEU on segments of a few words is low for every system (few
    4-grams), so the start is put on one scale as a share of the teacher's greedy BLEU on the same slice: "how close
    to its teacher the student was when energy training began" (the paper's CMLM: 28.1 / 33.0 = 85%).
    """
    points = gain_points_all()
    if not points:
        return None
    rows = [[p["benchmark"], p["checkpoint"], f"{p['start_bleu']:.2f} / {p['start_chrf']:.1f}",
             f"{p['start_share']:.0%} of {p['teacher_bleu']:.1f}",
             f"{p['engine_bleu'] - p['start_bleu']:+.2f} / {p['engine_chrf'] - p['start_chrf']:+.1f}",
             f"{p['control_bleu'] - p['start_bleu']:+.2f} / {p['control_chrf'] - p['start_chrf']:+.1f}",
             f"**{p['engine_bleu'] - p['control_bleu']:+.2f} / {p['engine_chrf'] - p['control_chrf']:+.1f}**",
             refined_gap(p)]
            for p in points]
    commands = sorted({p["command"] for p in points})
    return ("### ENGINE gain against the starting CMLM, all benchmarks\n\n"
            "Each point: ENGINE (the `engine` stage's settings) and a control (cross-entropy for ENGINE's wall time) "
            "from the same CMLM checkpoint, scored on that benchmark's help test slice (1 iteration, length beam 3), "
            "weakest start first, the start measured against the teacher's greedy BLEU on the same slice (BLEU of "
            "segments of a few words is low for every system; the paper's CMLM started at 28.1 / 33.0 = 85%). "
            "Differences in BLEU / chrF; ENGINE - control is the gain the issue asks for. The last column is the same "
            "runs at 10 iterations (recorded since the labels benchmark; - where not). Rows named \"still encoder\" "
            "come from students trained with the frozen encoder in eval mode (A's `still_main` as seed 0, "
            "`still_seeds`, `still_long_seeds` and `still_rebuilt`; labels' `still_confirm`; a row per seed); the others from the earlier students, trained with dropout in it.\n\n"
            + table(["benchmark", "start CMLM", "start BLEU / chrF", "start / teacher greedy BLEU", "ENGINE - start",
                     "control - start",
                     "ENGINE - control", "ENGINE - control, 10 it."], rows)
            + "\n\n![ENGINE gain, all benchmarks](engine_gain_all.png)\n\n"
            + f"*Commands: {', '.join(f'`{c}`' for c in commands)}.*")

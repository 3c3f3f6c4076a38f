"""Every figure under docs/, drawn from results already loaded and saved as `common.DOCS / name`. matplotlib is
imported inside each function, so rendering the tables alone never needs it."""

from __future__ import annotations

import statistics

from . import common
from .gain import GAIN_NAMES, STILL_NAMES
from .measurements import curve_points

# The one-run compute-curve stages drawn as a figure each (`plot_budget`), linked by benchmark.py's sections.
CURVE_STAGES = ("budget", "still_budget", "still_most_budget", "still_most_fast_budget", "still_max_long",
                "still_peak_pure_faster", "still_peak_pure_long")


def pyplot() -> object:
    """matplotlib's pyplot on the file-only Agg backend (no display on a build machine)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: object, name: str) -> None:
    """Every figure's finish: a tight layout, saved as docs/<name> at 120 dpi."""
    fig.tight_layout()
    common.DOCS.mkdir(exist_ok=True)
    fig.savefig(common.DOCS / name, dpi=120)


def plot_name(prefix: str, suffix: str, kind: str = "engine_gain") -> str:
    """docs/ file of a benchmark's plot: e.g. engine_gain.png (A), engine_gain_b.png (B), engine_gain_short.png,
    `_quick` for the slices."""
    benchmark = prefix.removeprefix("bench_").rstrip("_")
    return f"{kind}{'_' + benchmark if benchmark else ''}{suffix}.png"


def save_gain_axes(fig: object, axes: list, xlabel: str, ylabels: tuple[str, str], name: str) -> None:
    """The two-panel gain plots' common finish: a zero line, the labels, the legend on the left, saved under docs/."""
    for ax, ylabel in zip(axes, ylabels, strict=True):
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
    axes[0].legend(fontsize=8)
    save(fig, name)


def plot_gain(gain: dict, name: str) -> None:
    """docs/engine_gain*.png: ENGINE and its matched control minus the start, against the start's BLEU."""
    plt = pyplot()
    points = sorted(gain["points"], key=lambda p: p["start_bleu"])
    start = [p["start_bleu"] for p in points]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(start, [p["engine_bleu"] - p["start_bleu"] for p in points], "o-", label="ENGINE")
    ax.plot(start, [p["control_bleu"] - p["start_bleu"] for p in points], "s--", label="matched-compute CE")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("starting CMLM BLEU")
    ax.set_ylabel("BLEU change")
    ax.legend()
    save(fig, name)


def plot_gain_all(points: list[dict]) -> None:
    """docs/engine_gain_all.png: ENGINE minus control (BLEU and chrF) against the start's share of the teacher's
    BLEU, one marker per benchmark."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    styles = {**dict(zip(GAIN_NAMES.values(), ("o-", "s-", "^-"), strict=True)),
              **dict(zip(STILL_NAMES.values(), ("D", "v"), strict=True))}  # still-encoder points: no line, other starts
    for name, style in styles.items():
        mine = [p for p in points if p["benchmark"] == name]
        if not mine:
            continue
        for ax, metric in zip(axes, ("bleu", "chrf"), strict=True):
            ax.plot([100 * p["start_share"] for p in mine],
                    [p[f"engine_{metric}"] - p[f"control_{metric}"] for p in mine], style, label=name)
    save_gain_axes(fig, axes, "starting CMLM BLEU, % of teacher greedy BLEU",
                   ("ENGINE - control, BLEU", "ENGINE - control, chrF"), "engine_gain_all.png")


def plot_budget(data: dict, name: str) -> None:
    """BLEU, chrF and teacher energy of ENGINE and its control against wall time (the budget stage)."""
    plt = pyplot()
    seconds = [0.0] + [p["seconds"] for p in data["points"]]
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(11, 3.2))
    for axis, metric, label in ((left, "bleu", "test BLEU (1 it.)"), (middle, "chrf", "test chrF (1 it.)"),
                                (right, "teacher_energy", "teacher energy")):
        for who, style, legend in (("engine", "o-", "ENGINE"), ("control", "s--", "matched-compute CE")):
            values = [data["start"][metric]] + [p[f"{who}_{metric}"] for p in data["points"]]
            axis.plot(seconds, values, style, label=legend)
        axis.set_xlabel("training wall time (s)")
        axis.set_ylabel(label)
    left.legend()
    save(fig, name)


def plot_rise_by_start(points: list[dict], name: str) -> None:
    """ENGINE - start and ENGINE - CE at lr 1e-5 (BLEU, one iteration) against the start's BLEU: each seed a small
    marker, the mean over seeds a large one, 200 and 400 energy steps apart; the issue's +3 as a dashed line."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for steps, style, color in ((200, "o", "C0"), (400, "s", "C1")):
        mine = [q for q in points if q["steps"] == steps]
        for ax, minus in zip(axes, ("start", "control"), strict=True):
            have = [q for q in mine if f"{minus}_bleu" in q]
            if not have:
                continue
            ax.plot([q["start_bleu"] for q in have], [q["engine_bleu"] - q[f"{minus}_bleu"] for q in have], style,
                    color=color, alpha=0.35, markersize=4)
            starts = sorted({q["start_bleu"] for q in have})
            means = [statistics.mean(q["engine_bleu"] - q[f"{minus}_bleu"] for q in have if q["start_bleu"] == b)
                     for b in starts]
            ax.plot(starts, means, style + "-", color=color, label=f"{steps} energy steps (mean over seeds)")
    axes[0].axhline(3, color="grey", ls="--", lw=0.8, label="the issue's +3")
    save_gain_axes(fig, axes, "starting CMLM BLEU (help test, 1 it.)",
                   ("ENGINE - start, BLEU", "ENGINE - CE at lr 1e-5, BLEU"), name)


def plot_teacher_curve(sessions: list[dict]) -> None:
    """docs/teacher_de_en_curve.png: the DE->EN teacher's test BLEU after each training session, against the aim."""
    plt = pyplot()
    points = curve_points(sessions)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for key, label, style in (("greedy_bleu", "greedy", "o-"), ("beam4_bleu", "beam 4", "s--")):
        ax.plot([p["steps"] for p in points], [p[key] for p in points], style, label=label)
    ax.axhline(30, color="grey", lw=0.5, ls=":")
    ax.set_xlabel("training steps")
    ax.set_ylabel("test BLEU (LibreOffice help)")
    ax.legend()
    save(fig, "teacher_de_en_curve.png")

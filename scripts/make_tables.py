"""Regenerate the results from results/*.json: every table and plot of docs/RESULTS.md (and docs/*.png), and the
README's summary table. Nothing is typed by hand.

    python scripts/make_tables.py

The tables and plots are drawn by the package scripts/bench_tables/ (one module per kind of section; its docstring
lists them); this file is the entry point. The paths (`RESULTS`, `DOCS`, ...) live in `bench_tables.common` alone: a
test points them elsewhere there.
"""

from __future__ import annotations

import sys

from bench_tables import common
from bench_tables.common import load
from bench_tables.document import render, write_region
from bench_tables.gain import GAIN_BENCHMARKS, gain_points_all
from bench_tables.measurements import curve_points
from bench_tables.plots import (
    CURVE_STAGES,
    plot_budget,
    plot_gain,
    plot_gain_all,
    plot_name,
    plot_rise_by_start,
    plot_teacher_curve,
)
from bench_tables.still_encoder import rise_points, rise_stages
from bench_tables.targets import render_summary


def main() -> int:
    gain_points = gain_points_all()
    if gain_points:
        plot_gain_all(gain_points)
    for prefix in GAIN_BENCHMARKS + ("bench_b_",):
        for suffix in ("", "_quick"):
            gain = load(f"{prefix}gain{suffix}")
            if gain:
                plot_gain(gain, plot_name(prefix, suffix))
            for stage in CURVE_STAGES:
                budget = load(f"{prefix}{stage}{suffix}")
                if budget and not budget.get("partial"):
                    plot_budget(budget, plot_name(prefix, suffix, f"engine_{stage}"))
            if rise := rise_points(rise_stages(prefix, suffix)):
                plot_rise_by_start(rise, plot_name(prefix, suffix, "engine_rise_by_start"))
    teacher = load("teacher_de_en")
    if teacher and curve_points(teacher.get("training", {}).get("sessions", [])):
        plot_teacher_curve(teacher["training"]["sessions"])
    body = render()
    write_region(common.RESULTS_DOC, "results", body)
    write_region(common.README, "summary", render_summary())
    print(f"{common.RESULTS_DOC.relative_to(common.ROOT)}: {body.count('### ')} sections; README: the summary table")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Regenerate the results from results/*.json: every table and plot of docs/RESULTS.md (and docs/*.png), and the
README's summary table. Nothing is typed by hand.

    python scripts/make_tables.py

The tables and plots are drawn by the package scripts/bench_tables/ (one module per kind of section; its docstring
lists them). This file is the entry point, and re-exports the functions the tests call as `make_tables.<name>`. The
paths (`RESULTS`, `DOCS`, ...) live in `bench_tables.common` alone: a test points them elsewhere there.
"""

from __future__ import annotations

import sys

from bench_tables import common
from bench_tables.benchmark import section_bench, section_dev_curve
from bench_tables.common import load
from bench_tables.curves import dev_choice, section_budget, section_budget_seeds, section_fast
from bench_tables.decoding import (
    rescored_pairs,
    section_length_choice,
    section_lengths_strong,
    section_output_chars,
    section_ranking,
    section_rescoring,
)
from bench_tables.document import contents, region, render, write_region
from bench_tables.engine_settings import (
    first_checkpoint_pairs,
    section_confirm,
    section_descent,
    section_edge_by_start,
    section_sharp,
    section_slow_control,
    section_stronger,
    section_unfrozen,
    section_wide,
)
from bench_tables.gain import GAIN_BENCHMARKS, gain_points_all, section_gain_all
from bench_tables.measurements import curve_points, section_compute
from bench_tables.plots import (
    plot_budget,
    plot_gain,
    plot_gain_all,
    plot_name,
    plot_rise_by_start,
    plot_teacher_curve,
)
from bench_tables.still_encoder import (
    rise_points,
    rise_stages,
    section_more_steps,
    section_rise_by_start,
    section_still_encoder,
    section_still_long,
    section_still_main,
    section_still_more,
    section_still_rebuilt,
)
from bench_tables.targets import (
    render_summary,
    section_examples_targets,
    section_lengths_targets,
    section_significance,
    section_targets,
)

# What the tests reach as `make_tables.<name>` (beside what `main` uses), by module; `common` holds the paths.
__all__ = [
    "common",
    "section_bench", "section_dev_curve",
    "dev_choice", "section_budget", "section_budget_seeds", "section_fast",
    "rescored_pairs", "section_length_choice", "section_lengths_strong", "section_output_chars", "section_ranking",
    "section_rescoring",
    "contents", "region", "render",
    "first_checkpoint_pairs", "section_confirm", "section_descent", "section_edge_by_start", "section_sharp",
    "section_slow_control", "section_stronger", "section_unfrozen", "section_wide",
    "gain_points_all", "section_gain_all",
    "section_compute",
    "plot_gain_all", "plot_name", "plot_rise_by_start",
    "rise_points", "section_more_steps", "section_rise_by_start", "section_still_encoder", "section_still_long",
    "section_still_main", "section_still_more", "section_still_rebuilt",
    "render_summary", "section_examples_targets", "section_lengths_targets", "section_significance",
    "section_targets",
]


def main() -> int:
    gain_points = gain_points_all()
    if gain_points:
        plot_gain_all(gain_points)
    for prefix in GAIN_BENCHMARKS + ("bench_b_",):
        for suffix in ("", "_quick"):
            gain = load(f"{prefix}gain{suffix}")
            if gain:
                plot_gain(gain, plot_name(prefix, suffix))
            for stage in ("budget", "still_budget", "still_most_budget", "still_most_fast_budget", "still_max_long",
                          "still_peak_pure_faster", "still_peak_pure_long"):
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

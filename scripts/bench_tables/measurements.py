"""The sections that stand outside the benchmarks' stages: `make demo`, the converted Firefox Translations teacher
against its native engine, the DE->EN teacher trained here, decoding speed, the training step's cost, and the
compute `make bench` has recorded."""

from __future__ import annotations

import json

from . import common
from .common import load, source, table


def section_demo() -> str | None:
    """What `make demo` measured on its last run (`results/demo.json`)."""
    data = load("demo")
    if not data:
        return None
    rows = [[name, s["bleu"], s["chrf"], f"{s['repetition']:.2f}", f"{s['teacher_energy']:.2f}"]
            for name, s in data["scores"].items()]
    speed = data["speed_batch_1"]
    return ("### `make demo` (EN->PT, LibreOffice help, held-out help files)\n\n"
            + table(["system", "BLEU", "chrF", "repetition", "teacher energy (nats/token)"], rows)
            + f"\n\nBatch-1 latency: teacher greedy {speed['teacher_greedy_ms']:.0f} ms, ENGINE one pass "
            f"{speed['engine_1_iteration_ms']:.0f} ms per sentence ({speed['speedup']:.1f}x)"
            + (f", ENGINE one pass over 3 length candidates rescored by the teacher {speed['engine_rescored_ms']:.0f} ms "
               f"({speed['speedup_rescored']:.1f}x)" if "engine_rescored_ms" in speed else "")
            + f", {speed['sentences']} sentences. Run time {data['minutes']:.0f} min.\n\n" + source(data))


def section_fidelity() -> str | None:
    """The converted Firefox teacher against the original engine (`scripts/bench_bergamot_fidelity.py`)."""
    data = load("bergamot_fidelity")
    if not data:
        return None
    rows = [["identical greedy outputs", f"{data['exact_match']['count']}/{data['exact_match']['of']}"],
            ["... with the engine's lexical shortlist applied to the port",
             f"{data['exact_match_with_native_shortlist']['count']}/{data['exact_match_with_native_shortlist']['of']}"],
            ["BLEU native engine", data["bleu"]["native_engine"]],
            ["BLEU converted model", data["bleu"]["converted_model"]]]
    return ("### Firefox Translations EN->PT: converted teacher vs the native engine\n\n"
            f"{data['sentences']} held-out LibreOffice help sentences ({data['source_of_sentences']}), greedy.\n\n"
            + table(["", "value"], rows) + "\n\n*Command: `" + data["command"] + "`.*")


def curve_points(sessions: list[dict]) -> list[dict]:
    """Sessions that ended with a test evaluation, each with the run's wall time up to its end."""
    points, minutes = [], 0.0
    for session in sessions:
        minutes += session["seconds"] / 60
        if "greedy_bleu" in session:
            points.append({**session, "minutes": minutes})
    return points


def teacher_curve(sessions: list[dict]) -> str:
    """The run's learning curve, one row per session that ended with a test evaluation."""
    rows = [[p["steps"], f"{p['epochs']:.1f}", f"{p['minutes']:.0f}", p["threads"], p["greedy_bleu"], p["beam4_bleu"]]
            for p in curve_points(sessions)]
    if not rows:
        return ""
    return ("Learning curve (test BLEU after each session):\n\n"
            + table(["steps", "epochs", "minutes so far", "threads", "greedy BLEU", "beam-4 BLEU"], rows) + "\n\n")


def section_teacher_de_en() -> str | None:
    """Benchmark B's DE->EN MarianMT teacher: its test scores after each training session, with the curve."""
    data = load("teacher_de_en")
    if not data or "test" not in data:
        return None
    test, training, model = data["test"], data["training"], data["model"]
    rows = [[f"greedy ({data['corpus']['test_pairs_scored']} test pairs)", test["greedy"]["bleu"], test["greedy"]["chrf"]],
            ["beam 4", test["beam4"]["bleu"], test["beam4"]["chrf"]]]
    return ("### MarianMT teacher trained here (DE->EN, LibreOffice help test split)\n\n"
            + table(["decoding", "BLEU", "chrF"], rows)
            + f"\n\n{model['parameters'] / 1e6:.1f}M parameters, {training['steps']} steps "
            f"({training['epochs']:.1f} epochs of {training['batch_sentences']} sentences), "
            f"{training['wall_seconds_total'] / 60:.0f} min on {data['hardware']['torch_threads']} thread(s). "
            + ("Below the 30-BLEU aim; see the issue notes.\n\n" if test["beam4"]["bleu"] < 30 else "\n\n")
            + teacher_curve(training["sessions"])
            + ("![teacher learning curve](teacher_de_en_curve.png)\n\n" if curve_points(training["sessions"]) else "")
            + f"*Command: `{data['command']}` (resumes the run from `{data['output_dir']}` when that folder is there, else trains it again from the "
            "start: the minutes above; `--max-steps N` stops at step N and scores). A run started over does not give "
            "the same scores: `tokenizers`' Unigram training is not deterministic, so it trains another vocabulary.*")


def section_speed(name: str = "speed", title: str = "Decoding speed (CPU)") -> str | None:
    """Sentences/s and latency per sentence of teacher and NAT, side by side, as ratios to teacher greedy."""
    data = load(name)
    if not data:
        return None
    rows = []
    for batch, systems in data["results"].items():
        for system, r in systems.items():
            rows.append([batch.replace("_", " "), system, f"{1000 * r['seconds_per_sentence']:.1f}",
                         f"{r['sentences_per_second']:.1f}", f"{r['speedup_vs_teacher_greedy']:.2f}x",
                         f"{r['mean_output_tokens']:.1f}" if "mean_output_tokens" in r else "-"])
    header = ["batch", "system", "ms/sentence", "sentences/s", "vs teacher greedy", "output tokens/sentence"]
    text = f"### {title}\n\n" + table(header, rows)
    if "batch1_components_ms" in data:
        parts = ", ".join(f"{part} {ms:.1f} ms" for part, ms in data["batch1_components_ms"].items())
        text += (f"\n\nBatch-1 parts: {parts}. The encoders are per sentence; a sentence pays one teacher step per "
                 "output token (plus `</s>`), and one parallel pass per iteration and length candidate.")
    if "batch1_shortlist" in data:
        shortlist = data["batch1_shortlist"]
        rows = [[system, f"{1000 * r['seconds_per_sentence']:.1f}", f"{r['speedup_vs_teacher_greedy']:.2f}x",
                 f"{r['unchanged_outputs']:.0%}"] for system, r in shortlist["results"].items()]
        text += (f"\n\nBatch 1 with both output layers restricted to a shortlist of {shortlist['shortlist_ids']} of "
                 f"{shortlist['vocabulary']} ids (those the systems emit on these sentences, a stand-in for a lexical "
                 "shortlist), same run:\n\n"
                 + table(["system", "ms/sentence", "vs teacher greedy (shortlisted)", "outputs unchanged"], rows))
    return text + "\n\n" + source(data)


def section_train_step() -> str | None:
    """The cost of one training step, ENGINE's energy against cross-entropy (`scripts/bench_train_step.py`)."""
    data = load("train_step")
    if not data:
        return None
    profiled = all("profile" in r for r in data["results"].values())
    rows = [[name, f"{r['seconds_per_step']:.2f}", f"{r['target_tokens_per_second']:.0f}", f"{r['peak_rss_mb_after']:.0f}",
             f"{100 * r['profile']['matmul_share']:.0f}%" if profiled else "-"]
            for name, r in data["results"].items()]
    text = ("### Training-step cost: energy vs cross-entropy\n\n"
            + table(["step", "s/step", "target tokens/s", "peak RSS after (MB)", "matrix products (profiled)"], rows)
            + f"\n\nEnergy step / cross-entropy step = **{data['energy_over_cross_entropy']:.2f}x** "
            f"(goal <= 2x; batch of {data['batch_sentences']} sentences, {data['batch_target_tokens']} target tokens).")
    if profiled:
        text += (f" The matrix products alone cost {data['matmul_energy_over_cross_entropy']:.2f}x: "
                 "a floor that only a change of method or of precision would lower.")
    return text + "\n\n" + source(data)


TIMED_KEYS = ("train_seconds", "control_train_seconds", "seconds", "control_seconds")


def recorded_seconds(data: dict) -> float:
    """The training and distillation wall time a stage's results JSON records (evaluation is never timed). A compute
    curve's checkpoint times are cumulative, so it counts ENGINE's last one and its control's total."""
    if "engine_seconds_at" in data:
        return max(map(float, data["engine_seconds_at"].values())) + data.get("control_seconds", 0.0)

    def timed(value) -> float:
        if isinstance(value, dict):
            return sum(v if k in TIMED_KEYS and isinstance(v, int | float) else timed(v) for k, v in value.items())
        return sum(timed(v) for v in value) if isinstance(value, list) else 0.0

    return timed(data)


def section_compute() -> str | None:
    """How long `make bench` has taken here, summed from what the results record."""
    benchmarks = {"bench_": "A", "bench_short_": "A on short segments", "bench_labels_": "A on labels", "bench_b_": "B"}
    seconds: dict[str, dict[str, float]] = {prefix: {} for prefix in benchmarks}
    for path in sorted(common.RESULTS.glob("bench_*.json")):
        if not path.stem.endswith("_quick"):
            prefix = max((p for p in benchmarks if path.stem.startswith(p)), key=len)
            seconds[prefix][path.stem.removeprefix(prefix)] = recorded_seconds(json.loads(path.read_text()))
    rows = []
    for prefix, name in benchmarks.items():
        still = [stage for stage in seconds[prefix] if stage.startswith("still_") or stage == "distill_all"]
        rest = [stage for stage in seconds[prefix] if stage not in still]
        groups = [(f"{name}, the still-encoder line (`still_*`, `distill_all`)", still), (f"{name}, the rest", rest)]
        for label, group in groups if still else [(name, rest)]:
            timed = [stage for stage in group if seconds[prefix][stage] > 0]
            if timed:
                longest = max(timed, key=seconds[prefix].get)
                rows.append([label, f"{len(timed)} of {len(group)}", f"{sum(seconds[prefix][s] for s in group) / 3600:.2f}",
                             f"`{longest}` ({seconds[prefix][longest] / 3600:.2f} h)"])
    if not rows:
        return None
    return ("### Recorded compute of `make bench`\n\n"
            + table(["benchmark", "stages that time their training", "hours recorded", "longest stage"], rows)
            + "\n\nSummed from `train_seconds`, `control_train_seconds`, `seconds` and `control_seconds` in "
            "`results/bench_*.json` (`--quick` slices left out): training and distillation wall time on the hardware "
            "each JSON names. Evaluation is not timed, nor are the stages that only score (`gain`, `table2`, "
            "`lengths`, `examples`, ...), so each total is a floor. B's teacher trained separately "
            "(`results/teacher_de_en.json`). Regenerated with `python scripts/make_tables.py`.")

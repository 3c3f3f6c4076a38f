"""Compute curves: ENGINE and one CE control run checkpointed at the wall times ENGINE reached, along one longer run
(`section_budget`) or over seeds (`section_budget_seeds`, `section_fast`), one curves stage against another, and the
checkpoints each side would pick on dev instead of at a fixed step."""

from __future__ import annotations

import statistics

from .common import curve_gap, mean_range, partial_note, seeds, source, table


def curve_scores(point: dict, who: str) -> str:
    """One side of a compute-curve point at one iteration: BLEU / chrF / repetition / teacher energy."""
    return (f"{point[f'{who}_bleu']:.2f} / {point[f'{who}_chrf']:.1f} / {point[f'{who}_repetition']:.2f} / "
            f"{point[f'{who}_teacher_energy']:.2f}")


def curve_refined(point: dict, who: str) -> str:
    """One side of a compute-curve point at ten iterations: BLEU / chrF."""
    return f"{point[f'{who}_bleu_10']:.2f} / {point[f'{who}_chrf_10']:.1f}"


def dev_picks(data: dict) -> dict[str, dict]:
    """Each side's point of a compute curve with the best dev BLEU, the start (step 0) competing too."""
    start = {f"{who}_{m}": v for who in ("engine", "control") for m, v in data["start"].items()}
    candidates = [{**start, "engine_step": 0, "control_step": 0}, *data["points"]]
    return {who: max(candidates, key=lambda p: p[f"{who}_bleu_dev"]) for who in ("engine", "control")}


def dev_choice(data: dict) -> str:
    """A compute curve's checkpoints as one would pick them without the test set: each side's best dev BLEU (help
    validation, 1 iteration; the start competes too), and the two picks' test scores side by side."""
    picks = dev_picks(data)

    def pick(who: str, unit: str) -> str:
        p = picks[who]
        at = "the start" if p[f"{who}_step"] == 0 else f"{p[f'{who}_step']} {unit}"
        return (f"{at} (dev {p[f'{who}_bleu_dev']:.2f}; test {p[f'{who}_bleu']:.2f} / {p[f'{who}_chrf']:.1f} at one "
                f"iteration, {p[f'{who}_bleu_10']:.2f} / {p[f'{who}_chrf_10']:.1f} at ten)")

    engine, control = picks["engine"], picks["control"]
    return (f"Chosen on dev BLEU instead (help validation, 1 iteration, length beam 3; the start competes too), ENGINE's "
            f"pick is {pick('engine', 'energy steps')} and the control's pick {pick('control', 'CE steps')}: ENGINE - "
            f"control {engine['engine_bleu'] - control['control_bleu']:+.2f} / "
            f"{engine['engine_chrf'] - control['control_chrf']:+.1f} at one iteration and "
            f"{engine['engine_bleu_10'] - control['control_bleu_10']:+.2f} / "
            f"{engine['engine_chrf_10'] - control['control_chrf_10']:+.1f} at ten.")


def section_budget(data: dict, plot: str | None, stage: str = "budget", replica: dict | None = None,
                   control_replica: tuple[str, dict] | None = None,
                   title: str = "ENGINE against its control as compute grows") -> str:
    """ENGINE and its control at equal wall times along one longer run each: does the gap grow with compute?
    `replica` is the matched pair whose ENGINE the first checkpoint should repeat (same start, seed and steps);
    `control_replica` (its stage, its point) a control run of the same start, seed and lr for ENGINE's first wall
    time, which the control's first checkpoint should come close to (a wall-time stop is not step-exact). `plot`:
    the curve's figure under docs/, none for a single checkpoint."""
    if data.get("partial"):
        return f"**{title}** (`{stage}`): **unfinished**, the stage resumes where it stopped."
    scores, gap, refined = curve_scores, curve_gap, curve_refined
    start = {f"start_{m}": v for m, v in data["start"].items()}
    ten = all("engine_bleu_10" in p for p in data["points"])  # older results scored one iteration only
    rows = [[0, 0, scores(start, "start"), 0, scores(start, "start"), "-"]
            + ([refined(start, "start"), refined(start, "start"), "-"] if ten else [])]
    rows += [[p["engine_step"], f"{p['seconds']:.0f}", scores(p, "engine"), p["control_step"], scores(p, "control"),
              gap(p)] + ([refined(p, "engine"), refined(p, "control"), gap(p, "_10")] if ten else [])
             for p in data["points"]]
    setting = (f"O1 temperature {data['o1_temperature']:g}, " if data.get("o1_temperature", 1) != 1 else
               "the engine stage's settings, ")
    seed = f", seed {data['seed']}" if "seed" in data else ""
    text = (f"**{title}** (`{stage}`: {setting}lr "
            f"{data['learning_rate']:g}, `ce_weight` {data['ce_weight']:g}, {data['energy_steps']} energy steps from "
            f"{data['initialised_from']}{seed}, scored every {data['checkpoint_every']}; one control run (CE, lr "
            f"{data['control_learning_rate']:g}) checkpointed at the wall times ENGINE reached its checkpoints; help "
            "test set, 1 iteration, length beam 3; BLEU / chrF / repetition / teacher energy in nats per token"
            f"{'; the last three columns at 10 iterations, BLEU / chrF' if ten else ''}){partial_note(data)}:\n\n"
            + table(["energy steps", "wall time (s)", "ENGINE", "CE steps", "matched CE control",
                     "ENGINE - control (BLEU / chrF)"]
                    + (["ENGINE, 10 it.", "control, 10 it.", "ENGINE - control, 10 it."] if ten else []), rows))
    if all("engine_bleu_dev" in p for p in data["points"]) and "bleu_dev" in data["start"]:
        text += "\n\n" + dev_choice(data)
    if replica:
        first = data["points"][0]
        same = (first["engine_bleu"], first["engine_chrf"]) == (replica["engine_bleu"], replica["engine_chrf"])
        text += (f"\n\nThe {first['engine_step']}-step ENGINE checkpoint scores {first['engine_bleu']:.2f} / "
                 f"{first['engine_chrf']:.1f}; the matched pair of the same start and seed scored "
                 f"{replica['engine_bleu']:.2f} / {replica['engine_chrf']:.1f} "
                 f"({'the same run again' if same else 'not the same: the run did not repeat'}), and its control "
                 f"{replica['control_bleu']:.2f} / {replica['control_chrf']:.1f} after {replica['control_steps']} CE "
                 "steps.")
    if control_replica:
        control_stage, point = control_replica
        first = data["points"][0]
        text += (f" The control's first checkpoint ({first['control_step']} CE steps at lr "
                 f"{data['control_learning_rate']:g}) scores {first['control_bleu']:.2f} / {first['control_chrf']:.1f}; "
                 f"`{control_stage}`'s control of the same start, seed and lr scored {point['control_bleu']:.2f} / "
                 f"{point['control_chrf']:.1f} after {point['control_steps']} steps in its pair's wall time.")
    return text + (f"\n\n![{title}]({plot})" if plot else "")


def seed_curves(data: dict) -> dict[int, dict]:
    """A stage's finished compute curves by seed: the `curves` layout of `seeded_curves` (`seed<N>`), or the older
    layout of one curve with its `seed`."""
    curves = data.get("curves") or ({f"seed{data['seed']}": data} if "points" in data else {})
    return {int(name.removeprefix("seed")): curve for name, curve in sorted(curves.items()) if not curve.get("partial")}


def seed_curves_table(curves: dict[int, dict]) -> str:
    """Each seed's checkpoints, ENGINE beside its control at one and at ten iterations."""
    rows = [[seed, p["engine_step"], f"{p['seconds']:.0f}", curve_scores(p, "engine"), p["control_step"],
             curve_scores(p, "control"), curve_gap(p), curve_refined(p, "engine"), curve_refined(p, "control"),
             curve_gap(p, "_10")] for seed, curve in sorted(curves.items()) for p in curve["points"]]
    return table(["seed", "energy steps", "wall time (s)", "ENGINE, 1 it.", "CE steps", "control, 1 it.",
                  "ENGINE - control, 1 it.", "ENGINE, 10 it.", "control, 10 it.", "ENGINE - control, 10 it."], rows)


def seed_curves_summary(curves: dict[int, dict]) -> list[str]:
    """Per checkpoint, the mean ENGINE - control and ENGINE - start over seeds; then each side chosen on dev."""
    some = next(iter(curves.values()))
    summary = []
    for i, p in enumerate(some["points"]):
        at = [curve["points"][i] for curve in curves.values()]
        one = mean_range([q["engine_bleu"] - q["control_bleu"] for q in at], "BLEU")
        ten = mean_range([q["engine_bleu_10"] - q["control_bleu_10"] for q in at], "BLEU")
        rise = mean_range([q["engine_bleu"] - curve["start"]["bleu"] for q, curve in zip(at, curves.values(),
                                                                                         strict=True)], "BLEU")
        summary.append(f"- {p['engine_step']} energy steps, {'mean over ' if len(at) > 1 else ''}{seeds(len(at))}: ENGINE - control {one} at one "
                       f"iteration and {ten} at ten; ENGINE - start {rise} at one iteration")
    picks = {seed: dev_picks(curve) for seed, curve in sorted(curves.items())}
    chosen = [p["engine"]["engine_bleu"] - p["control"]["control_bleu"] for p in picks.values()]
    chosen_10 = [p["engine"]["engine_bleu_10"] - p["control"]["control_bleu_10"] for p in picks.values()]
    summary.append("- chosen on dev BLEU (help validation, 1 iteration; the start and every checkpoint compete), ENGINE "
                   f"- control {mean_range(chosen, 'BLEU')} at one iteration and {mean_range(chosen_10, 'BLEU')} at "
                   "ten; picks (energy steps / CE steps): " + ", ".join(
                       f"seed {seed} {p['engine']['engine_step'] or 'the start'} / "
                       f"{p['control']['control_step'] or 'the start'}" for seed, p in picks.items()))
    return summary


def seed_curves_about(some: dict, steps: int | None = None) -> str:
    """The setting of a stage of seeded curves and its start's scores, for the table's heading."""
    start = some["start"]
    scored = (f"scored every {some['checkpoint_every']}" if some["energy_steps"] != some["checkpoint_every"] else
              "scored once")
    lengths = (f", the energy at the {some['energy_length']} lengths" if some.get("energy_length", "oracle") != "oracle"
               else "")
    return (f"O1 temperature {some['o1_temperature']:g}, lr {some['learning_rate']:g}, `ce_weight` "
            f"{some['ce_weight']:g}{lengths}, {steps or some['energy_steps']} energy steps from {some['initialised_from']}, "
            f"{scored}; each seed's control one CE run at lr {some['control_learning_rate']:g} checkpointed at the "
            "wall times its ENGINE reached; help test set, length beam 3; 1 iteration: BLEU / chrF / repetition / "
            "teacher energy, 10 iterations: BLEU / chrF; the start scores "
            f"{curve_scores({f'start_{m}': v for m, v in start.items()}, 'start')} at one iteration and "
            f"{start['bleu_10']:.2f} / {start['chrf_10']:.1f} at ten")


def curves_against(ours: dict[int, dict], theirs: dict[int, dict], stage: str) -> str:
    """Each checkpoint of one curves stage against `stage`'s, over the seeds both ran from the same start, where the two
    differ in `ce_weight`, lr or the lengths the energy is taken at only: does dropping the CE term (or a larger step,
    or training at the predicted lengths) let ENGINE rise further, or hack the energy (lower energy, worse BLEU, more
    repetition)? The controls differ in steps only: pure steps are cheaper, so
    a pure stage's controls get fewer."""
    both = sorted(seed for seed in ours if seed in theirs
                  and ours[seed]["start_sha256"] == theirs[seed]["start_sha256"])
    if not both:
        return ""
    here, there = ours[both[0]], theirs[both[0]]
    differ = [f"{label} {there[key]:g} where this stage has {here[key]:g}"
              for key, label in (("learning_rate", "lr"), ("ce_weight", "`ce_weight`")) if here[key] != there[key]]
    lengths = [curve.get("energy_length", "oracle") for curve in (there, here)]
    if lengths[0] != lengths[1]:
        differ.append("the energy at the {} lengths where this stage takes it at the {} ones".format(
            *("reference" if length == "oracle" else length for length in lengths)))

    def against(at: list[tuple[dict, dict]], key: str, digits: int = 2) -> str:
        """The mean of `key` over the seeds' (ours, theirs) checkpoints, ours against theirs."""
        our_mean, their_mean = (statistics.mean(pair[side][key] for pair in at) for side in (0, 1))
        return f"{our_mean:.{digits}f} against {their_mean:.{digits}f}"

    lines = []
    for i, p in enumerate(here["points"]):
        at = [(ours[seed]["points"][i], theirs[seed]["points"][i]) for seed in both]
        if any(q["engine_step"] != m["engine_step"] for q, m in at):
            break
        lines.append(
            f"- {p['engine_step']} energy steps: this stage - `{stage}` "
            f"{mean_range([q['engine_bleu'] - m['engine_bleu'] for q, m in at], 'BLEU')} / "
            f"{mean_range([q['engine_chrf'] - m['engine_chrf'] for q, m in at], 'chrF', 1)} at one iteration, "
            f"{mean_range([q['engine_bleu_10'] - m['engine_bleu_10'] for q, m in at], 'BLEU')} at ten; teacher energy "
            f"{against(at, 'engine_teacher_energy')}, repetition {against(at, 'engine_repetition')}; the controls "
            f"reached {against(at, 'control_step', 0)} CE steps")
    return (f"Against `{stage}` (the same start, O1 and steps; {' and '.join(differ) or 'the same setting'}), mean "
            f"over {seeds(len(both))} ({', '.join(map(str, both))}):\n\n" + "\n".join(lines))


def section_budget_seeds(data: dict, seed_2: dict | None, sharp: dict | None, slow: dict | None,
                         stage: str = "still_most_budget_seeds", against: tuple[dict | None, str] | None = None) -> str:
    """A stage of 400-step compute curves over seeds (`still_most_budget_seeds`, `still_max_budget`). `seed_2`, where
    given, is `still_most_budget` (its first checkpoints are the same run as a shorter one: both learning rates are
    constant); `sharp` and `slow` the 200-step pairs and slow controls of the same start and seeds, which each curve's
    first checkpoint repeats (named after the start's line: `still_most_sharp` for `cmlm_most_still`). `against` is
    another curves stage of the same start and seeds with its name, in one setting other (`curves_against`): the
    mixed energy beside a pure-energy stage, a smaller lr beside a larger one."""
    curves = seed_curves(data)
    some = next(iter(curves.values()), {})
    start = some.get("initialised_from")
    line = {"cmlm_most_still": "still_most", "cmlm_max_still": "still_max", "cmlm_peak_still": "still_peak"}.get(start, "")
    what = ("Pure energy (`ce_weight` 0) with the sharp O1" if some.get("ce_weight") == 0 else "The sharp O1's edge") + (
        f" at lr {some['learning_rate']:g}" if "learning_rate" in some else "") + (
        f", at the {some['energy_length']} lengths" if some.get("energy_length", "oracle") != "oracle" else "")
    title = f"**{what} from {f'`{start}`' if start else 'its start'} at 200 and 400 steps, over seeds**"
    if not curves:
        return f"{title} (`{stage}`): **unfinished**, the stage resumes where it stopped."
    unfinished = (f" — **unfinished: {seeds(len(curves))} so far**, the stage resumes where it stopped"
                  if data.get("partial") else "")
    steps = len(some["points"])
    from_seed_2 = ""
    if seed_2 and not seed_2.get("partial") and 2 not in curves:
        curves[2] = {**seed_2, "points": seed_2["points"][:steps]}
        from_seed_2 = f"; seed 2 is `still_most_budget`'s first {steps} checkpoints"
    text = (f"{title} (`{stage}`: {seed_curves_about(some)}{from_seed_2}){unfinished}:\n\n" + seed_curves_table(curves)
            + "\n\n" + "\n".join(seed_curves_summary(curves)))
    checks = []
    for seed, curve in sorted(curves.items()):
        first = curve["points"][0]
        pair = next((q for q in (sharp or {}).get("points", []) if q["seed"] == seed), None)
        control = next((q for q in (slow or {}).get("points", []) if q["seed"] == seed), None)
        if pair:
            same = (first["engine_bleu"], first["engine_chrf"]) == (pair["engine_bleu"], pair["engine_chrf"])
            checks.append(f"seed {seed}: ENGINE {first['engine_bleu']:.2f} / {first['engine_chrf']:.1f} against "
                          f"`{line}_sharp`'s {pair['engine_bleu']:.2f} / {pair['engine_chrf']:.1f} "
                          f"({'the same run again' if same else 'not the same: the run did not repeat'})"
                          + (f", control {first['control_bleu']:.2f} / {first['control_chrf']:.1f} after "
                             f"{first['control_step']} steps against `{line}_slow`'s {control['control_bleu']:.2f} / "
                             f"{control['control_chrf']:.1f} after {control['control_steps']}" if control else ""))
    if checks:
        text += ("\n\nThe first checkpoints against the 200-step runs of the same start and seed (a wall-time stop is "
                 "not step-exact, so the controls come close rather than repeat): " + "; ".join(checks) + ".")
    if against and (beside := curves_against(curves, seed_curves(against[0] or {}), against[1])):
        text += "\n\n" + beside
    return text + "\n\n" + source(data)


# Labels' pre-registered tests of A's found setting, in the order they ran (`significance_stages` of labels in
# scripts/bench_stages/settings.py): the first from a start no run of it had touched, the second from one CE has
# taken further, with a condition.
TRANSFER_STAGES = ("still_long_pure_fast", "still_further_pure_fast")


def section_transfer(data: dict, stage: str = "still_long_pure_fast") -> str:
    """The targets' setting on labels, with the prediction written before the first run and whether it held:
    `still_long_pure_fast` (a start no run of the setting had touched) and `still_further_pure_fast` (a start CE has
    taken further, where the prediction counts only if the controls no longer rise much over the start)."""
    if stage == "still_long_pure_fast":
        lead = ("**A's found setting where it was not chosen (labels)**: `still_peak_pure_fast`'s setting from labels' "
                "`cmlm_long_still`. ")
    else:
        made = data.get("start_training", {})
        lead = (f"**The same from a start cross-entropy has taken further (labels)**: `cmlm_further_still` is "
                f"`{made.get('initialised_from')}` + {made.get('steps')} CE steps (lr {made.get('learning_rate', 0):g}, "
                f"decaying; {made.get('train_seconds', 0) / 60:.0f} min). ")
    text = lead + section_budget_seeds(data, None, None, None, stage=stage)
    if not (found := transfer_prediction(data, stage)):
        return text
    text += (f"\n\n**The prediction**, written into the stage's docstring before its first run: after "
             f"{found['steps']} steps ENGINE is ahead of its control at one pass in BLEU and in chrF on the mean over "
             f"the seeds, and ahead of its start in BLEU. Over {seeds(found['seeds'])}: ENGINE - control "
             f"{found['bleu']:+.2f} BLEU / {found['chrf']:+.2f} chrF, ENGINE - start {found['rise']:+.2f} BLEU: "
             f"**{'it held' if found['held'] else 'it did not hold'}**.")
    if stage != TRANSFER_STAGES[0]:  # its condition: the controls' rise over the start in ENGINE's wall time
        text += (f" The controls rose {found['control_rise']:+.2f} BLEU over the start in ENGINE's wall time: "
                 + ("the start is saturated enough for the test to count." if found["counts"] else
                    "more than 1, so the start was not saturated and the stage says nothing either way."))
    return text


def transfer_prediction(data: dict | None, stage: str) -> dict | None:
    """A transfer stage's prediction judged at its last checkpoint, means over seeds: ENGINE - control in BLEU and
    chrF, ENGINE - start in BLEU, and whether all three are above 0 (`held`); the controls' rise over the start, and
    whether it is small enough for the later stages' test to count (<= 1 BLEU: a start where CE has stopped paying;
    the first stage had no such condition). None until the stage has finished."""
    curves = seed_curves(data or {})
    if not curves or data.get("partial"):
        return None
    last = [(curve["points"][-1], curve["start"]) for curve in curves.values()]
    gap = {m: statistics.mean(p[f"engine_{m}"] - p[f"control_{m}"] for p, _ in last) for m in ("bleu", "chrf")}
    rise = statistics.mean(p["engine_bleu"] - start["bleu"] for p, start in last)
    control_rise = statistics.mean(p["control_bleu"] - start["bleu"] for p, start in last)
    return {"steps": last[0][0]["engine_step"], "seeds": len(last), **gap, "rise": rise, "control_rise": control_rise,
            "held": gap["bleu"] > 0 and gap["chrf"] > 0 and rise > 0,
            "counts": stage == TRANSFER_STAGES[0] or control_rise <= 1}


def section_fast(data: dict, slower: dict[int, dict], decay: dict | None) -> str:
    """`still_most_fast`: the sharp O1 at a larger learning rate, one checkpoint per seed against CE at that rate,
    beside the same seed's checkpoint of as many steps at lr 1e-5 (`slower`: seed -> its curve, from
    `still_most_budget_seeds` and `still_most_budget`) and the decaying-lr CE control of the same start and seed
    (`decay`: `still_most_decay`, CE at lr 1e-4 decaying to 0 over the lr-1e-5 pair's wall time)."""
    curves = seed_curves(data)
    some = next(iter(curves.values()), data)
    title = f"**The sharp O1 at lr {some.get('learning_rate', 0):g} from `cmlm_most_still`, over seeds**"
    if not curves:
        return f"{title} (`still_most_fast`): **unfinished**, the stage resumes where it stopped."
    unfinished = (f" — **unfinished: {seeds(len(curves))} so far**, the stage resumes where it stopped"
                  if data.get("partial") else "")
    text = (f"{title} (`still_most_fast`: {seed_curves_about(some)}){unfinished}:\n\n" + seed_curves_table(curves)
            + "\n\n" + "\n".join(seed_curves_summary(curves)))
    lines, faster, over_decay, over_decay_10 = [], [], [], []
    for seed, curve in sorted(curves.items()):
        fast = curve["points"][0]
        slow = next((p for p in slower.get(seed, {}).get("points", []) if p["engine_step"] == fast["engine_step"]), None)
        control = next((p for p in (decay or {}).get("points", []) if p["seed"] == seed), None)
        parts = []
        if slow:
            faster.append(fast["engine_bleu"] - slow["engine_bleu"])
            parts.append(f"at lr {slower[seed]['learning_rate']:g} the same seed's {slow['engine_step']}-step ENGINE "
                         f"scored {curve_scores(slow, 'engine')} at one iteration and "
                         f"{slow['engine_bleu_10']:.2f} / {slow['engine_chrf_10']:.1f} at ten (the larger step: "
                         f"{fast['engine_bleu'] - slow['engine_bleu']:+.2f} / "
                         f"{fast['engine_chrf'] - slow['engine_chrf']:+.1f} and "
                         f"{fast['engine_bleu_10'] - slow['engine_bleu_10']:+.2f} / "
                         f"{fast['engine_chrf_10'] - slow['engine_chrf_10']:+.1f}), its control "
                         f"{slow['control_bleu']:.2f} / {slow['control_chrf']:.1f} after {slow['control_step']} CE steps")
        if control:
            over_decay.append(fast["engine_bleu"] - control["control_bleu"])
            over_decay_10.append(fast["engine_bleu_10"] - control["control_bleu_10"])
            parts.append(f"the decaying-lr control (`still_most_decay`: {control['control_steps']} CE steps in "
                         f"{control['train_seconds']:.0f} s) scored {control['control_bleu']:.2f} / "
                         f"{control['control_chrf']:.1f} and {control['control_bleu_10']:.2f} / "
                         f"{control['control_chrf_10']:.1f}: ENGINE at lr {curve['learning_rate']:g} - it "
                         f"{fast['engine_bleu'] - control['control_bleu']:+.2f} / "
                         f"{fast['engine_chrf'] - control['control_chrf']:+.1f} at one iteration and "
                         f"{fast['engine_bleu_10'] - control['control_bleu_10']:+.2f} / "
                         f"{fast['engine_chrf_10'] - control['control_chrf_10']:+.1f} at ten")
        if parts:
            lines.append(f"- seed {seed}: " + "; ".join(parts))
    if faster:
        lines.append(f"- over {seeds(len(faster))} the larger step moves ENGINE by {mean_range(faster, 'BLEU')} at one "
                     "iteration" + (f"; ENGINE - the decaying-lr control {mean_range(over_decay, 'BLEU')} at one "
                                    f"iteration and {mean_range(over_decay_10, 'BLEU')} at ten" if over_decay else ""))
    if lines:
        text += ("\n\nBeside the same seeds at lr 1e-5 and the strongest CE use of the compute measured from this start "
                 "(CE at lr 1e-4 decaying to 0, for the wall time of the lr-1e-5 pair of the seed):\n\n"
                 + "\n".join(lines))
    return text + "\n\n" + source(data)

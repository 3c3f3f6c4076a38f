"""Which ENGINE setting beats its matched control (same start, same seed, CE for ENGINE's wall time): the chosen
setting over seeds, the sharp O1, the stronger starts, the second CE controls, the edge by start, gradient descent
on the energy with no network trained, and ENGINE with nothing frozen."""

from __future__ import annotations

import statistics

from .common import mean_of, partial_note, refined_gap, short_digest, slashed, table
from .curves import seed_curves


def section_confirm(data: dict, title: str | None = None) -> str:
    """The sweep's best ENGINE setting on the test set, per start and seed, against its own matched control."""
    with_energy = all("engine_teacher_energy" in p for p in data["points"])
    refined = bool(data["points"]) and all("engine_bleu_10" in p for p in data["points"])

    def scores(point: dict, who: str) -> str:
        energy = f" / {point[f'{who}_teacher_energy']:.2f}" if with_energy else ""
        return f"{point[f'{who}_bleu']:.2f} / {point[f'{who}_chrf']:.1f} / {point[f'{who}_repetition']:.2f}{energy}"

    rows, summary = [], []
    for start, start_scores in data["starts"].items():
        points = sorted((p for p in data["points"] if p["start"] == start), key=lambda p: p["seed"])
        if not points:
            continue
        metrics = ("bleu", "chrf", "repetition") + (("teacher_energy",) if with_energy else ())
        start_row = {f"start_{m}": start_scores[m] for m in metrics}
        rows += [[start, p["seed"], scores(start_row, "start"), scores(p, "engine"), scores(p, "control"),
                  f"{p['engine_bleu'] - p['control_bleu']:+.2f} / {p['engine_chrf'] - p['control_chrf']:+.1f}"]
                 + ([refined_gap(p)] if refined else []) for p in points]
        bleu = [p["engine_bleu"] - p["control_bleu"] for p in points]
        chrf = [p["engine_chrf"] - p["control_chrf"] for p in points]
        above = sum(d > 0 for d in bleu)
        spread = f" (sd {statistics.stdev(bleu):.2f})" if len(bleu) > 1 else ""
        energy = ""
        if with_energy:
            lower = sum(p["engine_teacher_energy"] < p["control_teacher_energy"] for p in points)
            energy = (f"; teacher energy ENGINE - control {statistics.mean(p['engine_teacher_energy'] - p['control_teacher_energy'] for p in points):+.2f} "
                      f"nats/token, ENGINE lower in {lower} of {len(points)}")
        if refined:
            bleu10 = [p["engine_bleu_10"] - p["control_bleu_10"] for p in points]
            chrf10 = [p["engine_chrf_10"] - p["control_chrf_10"] for p in points]
            energy += (f"; at 10 iterations {statistics.mean(bleu10):+.2f} BLEU, {statistics.mean(chrf10):+.1f} chrF, "
                       f"ENGINE above in BLEU in {sum(d > 0 for d in bleu10)} of {len(points)}")
        summary.append(f"from {start}: ENGINE - control = {statistics.mean(bleu):+.2f} BLEU{spread}, "
                       f"{statistics.mean(chrf):+.1f} chrF on average over {len(points)} seed(s); ENGINE above the "
                       f"control in BLEU in {above} of {len(points)}, in chrF in {sum(d > 0 for d in chrf)} of "
                       f"{len(points)}{energy}")
    among = f" among {len(data['candidates'])} ENGINE settings" if "candidates" in data else ""
    title = title or ("Confirming the `engine` setting over seeds" if "no sweep" in data["selected_on"]
                      else "Confirming the sweep's best setting on the test set")
    # Records written before the stages moved out of scripts/bench.py name it as the settings' home.
    selected_on = data["selected_on"].replace("in scripts/bench.py)", "in scripts/bench_stages/settings.py)")
    return (f"**{title}** (`{data.get('stage', 'confirm')}`: {data['setting']}, chosen on "
            f"{selected_on}{among}; {data['energy_steps']} energy steps per run; each run's control is CE at lr 1e-4 "
            f"for that run's wall time with the same seed; help test set, 1 iteration, length beam 3; "
            f"BLEU / chrF / repetition{' / teacher energy, nats per token' if with_energy else ''})"
            f"{partial_note(data)}:\n\n"
            + table(["start", "seed", "start CMLM", "ENGINE", "matched CE control", "ENGINE - control (BLEU / chrF)"]
                    + (["ENGINE - control, 10 it."] if refined else []), rows)
            + "\n\n" + "\n".join(f"- {line}" for line in summary))


def section_sharp(data: dict, beside: dict[str, dict | None], title: str | None = None) -> str:
    """A `sharp`-like stage (`sharp`, `sharper`, `stronger`) in `confirm`'s table, then beside each earlier stage in
    `beside` (its stage name -> its results) at the same start and seeds, where both started from the same build."""
    if "start" in data:  # written before sharp had a second start: one start, points without their start
        name = data["initialised_from"]
        data = {**data, "starts": {name: data["start"]}, "points": [{**p, "start": name} for p in data["points"]]}
    shaped = {"selected_on": "a first look at 64 dev labels, before any test run (`SHARP` in scripts/bench_stages/settings.py)",
              **data}  # sharp's first results did not record it
    text = section_confirm(shaped, title=title or f"ENGINE with a sharpened O1 (temperature "
                                                  f"{data['o1_temperature']:g}), over seeds")
    for stage, other in beside.items():
        earlier = {(p["start"], p["seed"]): p for p in (other or {}).get("points", [])}
        what = f"`{stage}`'s ENGINE (O1 temperature {(other or {}).get('o1_temperature', 1):g})"
        for name, start in data["starts"].items():
            same = [(point, earlier[name, point["seed"]]) for point in data["points"]
                    if point["start"] == name and (name, point["seed"]) in earlier]
            if not same:
                continue
            digest = other.get("starts", {}).get(name, {}).get("model_sha256")
            if digest != start.get("model_sha256"):
                text += (f"\n- from {name}: not set beside `{stage}`, whose runs started from another build of "
                         f"{name} (weights digest {short_digest(digest)}, here {short_digest(start.get('model_sha256'))})")
                continue
            bleu = [this["engine_bleu"] - that["engine_bleu"] for this, that in same]
            chrf = [this["engine_chrf"] - that["engine_chrf"] for this, that in same]
            energy = [this["engine_teacher_energy"] - that["engine_teacher_energy"] for this, that in same]
            text += (f"\n- from {name}, against {what} of the same seeds: {statistics.mean(bleu):+.2f} BLEU, "
                     f"{statistics.mean(chrf):+.1f} chrF, teacher energy {statistics.mean(energy):+.2f} nats/token on "
                     f"average over {len(same)} seed(s); higher BLEU in {sum(d > 0 for d in bleu)} of {len(same)}, "
                     f"higher chrF in {sum(d > 0 for d in chrf)} of {len(same)}")
            if all("train_seconds" in that and "control_bleu" in that for _, that in same):
                bleu = [this["engine_bleu"] - that["control_bleu"] for this, that in same]
                chrf = [this["engine_chrf"] - that["control_chrf"] for this, that in same]
                text += (f"\n- from {name}, wall time: these ENGINE runs took "
                         f"{statistics.mean(s['train_seconds'] for s, _ in same):.0f} s on average (their controls "
                         f"{statistics.mean(s['control_steps'] for s, _ in same):.0f} CE steps), `{stage}`'s "
                         f"{statistics.mean(p['train_seconds'] for _, p in same):.0f} s (controls "
                         f"{statistics.mean(p['control_steps'] for _, p in same):.0f} steps); against `{stage}`'s "
                         f"controls of the same seeds this ENGINE is {statistics.mean(bleu):+.2f} BLEU, "
                         f"{statistics.mean(chrf):+.1f} chrF, above in chrF in {sum(d > 0 for d in chrf)} of "
                         f"{len(same)}")
    return text


def against_start(starts: dict, controls: list[dict], name: str) -> str:
    """"; the {name} - its start = ..." at one pass, where the ENGINE stage scored its starts in both metrics: a
    control that ends below its start is partly a jolt, not a measure of what CE buys."""
    deltas = [(c["control_bleu"] - starts[c["start"]]["bleu"], c["control_chrf"] - starts[c["start"]]["chrf"])
              for c in controls if {"bleu", "chrf"} <= set(starts.get(c["start"], {}))]
    if not deltas or len(deltas) < len(controls):
        return ""
    return (f"; the {name} - its start, 1 it: {statistics.mean(b for b, _ in deltas):+.2f} / "
            f"{statistics.mean(c for _, c in deltas):+.1f}, above it in both in "
            f"{sum(b > 0 and c > 0 for b, c in deltas)} of {len(deltas)}")


def section_slow_control(slow: dict, *engines: dict | None) -> str:
    """A second CE control (`slow_control`: ENGINE's learning rate for each run's wall time; `decay_control`: a
    short decaying schedule of the first control's step count) beside the ENGINE runs of `engines` (same start and
    seed) and their usual controls (constant lr 1e-4)."""
    decaying = slow.get("lr_scheduler_type", "constant") != "constant"
    name = "decaying control" if decaying else "slow control"

    def cell(point: dict, who: str) -> str:
        return (f"{point[f'{who}_bleu']:.2f} / {point[f'{who}_chrf']:.1f} / {point[f'{who}_repetition']:.2f} / "
                f"{point[f'{who}_teacher_energy']:.2f}")

    rows, summary, usual = [], [], {stage.get("control_learning_rate", 1e-4) for stage in filter(None, engines)}
    for stage in filter(None, engines):
        points = {(p["start"], p["seed"]): p for p in stage["points"]}
        pairs = sorted(((points[p["start"], p["seed"]], p) for p in slow["points"] if (p["start"], p["seed"]) in points),
                       key=lambda pair: pair[1]["seed"])
        if not pairs:
            continue
        rows += [[f"`{stage['stage']}` (O1 temperature {stage['o1_temperature']:g})", s["seed"], cell(e, "engine"),
                  cell(e, "control"), cell(s, "control") + f" ({s['control_steps']} steps, {s['train_seconds']:.0f} s)",
                  f"{e['engine_bleu'] - s['control_bleu']:+.2f} / {e['engine_chrf'] - s['control_chrf']:+.1f}",
                  f"{e['engine_bleu_10'] - s['control_bleu_10']:+.2f} / {e['engine_chrf_10'] - s['control_chrf_10']:+.1f}"]
                 for e, s in pairs]
        chrf = [e["engine_chrf"] - s["control_chrf"] for e, s in pairs]
        summary.append(f"`{stage['stage']}`: ENGINE - {name} = "
                       f"{statistics.mean(e['engine_bleu'] - s['control_bleu'] for e, s in pairs):+.2f} BLEU, "
                       f"{statistics.mean(chrf):+.1f} chrF, ENGINE above in chrF in {sum(d > 0 for d in chrf)} of "
                       f"{len(pairs)}; at 10 iterations "
                       f"{statistics.mean(e['engine_bleu_10'] - s['control_bleu_10'] for e, s in pairs):+.2f} / "
                       f"{statistics.mean(e['engine_chrf_10'] - s['control_chrf_10'] for e, s in pairs):+.1f}"
                       + against_start(stage.get("starts", {}), [s for _, s in pairs], name))
    what = (f"**A control with a short decaying schedule** (`{slow['stage']}`: CE from lr {slow['learning_rate']:g} "
            "decaying linearly to 0 over as many steps as the run's first control took in ENGINE's wall time"
            if decaying else
            f"**A control at ENGINE's own learning rate** (`{slow['stage']}`: CE at a constant lr "
            f"{slow['learning_rate']:g} for each ENGINE run's wall time")
    return (f"{what}, from the same start, same seed; BLEU / chrF / repetition / teacher energy, help test set, "
            f"1 iteration, length beam 3){partial_note(slow)}:\n\n"
            + table(["ENGINE run", "seed", "ENGINE", "control, constant lr " + " or ".join(
                f"{lr:.0e}".replace("e-0", "e-") for lr in sorted(usual)), name, f"ENGINE - {name}",
                     f"ENGINE - {name}, 10 it."], rows)
            + "\n\n" + "\n".join(f"- {line}" for line in summary))


def first_checkpoint_pairs(data: dict, stage: str) -> dict:
    """A stage of seeded curves as a stage of matched pairs (`section_slow_control`'s `engines`): each seed's first
    checkpoint, ENGINE beside the control checkpointed at its wall time; a second control ran against those."""
    curves = seed_curves(data)
    some = next(iter(curves.values()), {})
    return {"stage": stage, "o1_temperature": some.get("o1_temperature"),
            "control_learning_rate": some.get("control_learning_rate"),
            "starts": {curve["initialised_from"]: curve["start"] for curve in curves.values()},
            "points": [{"start": curve["initialised_from"], "seed": seed, **curve["points"][0]}
                       for seed, curve in curves.items()]}


def trained_further(record: dict, corpus: str) -> str:
    """One line for a CMLM stage trained on from another (`train_further` in scripts/bench_stages/recipes.py): recipe and scores."""
    one, ten = (record[f"{n}_iterations"]["libreoffice"] for n in (1, 10))
    return (f"`{record['stage']}` = {record['initialised_from']} + {record['steps']} CE steps on {corpus} (lr "
            f"{record['learning_rate']:g}, decaying; {record['train_seconds'] / 60:.0f} min; weights "
            f"`{short_digest(record.get('model_sha256'))}`): help test BLEU / chrF at length beam 5 "
            f"{one['bleu']:.2f} / {one['chrf']:.1f} at 1 iteration, {ten['bleu']:.2f} / {ten['chrf']:.1f} at 10")


def section_stronger(distill_ui: dict | None, more: dict | None, stronger: dict,
                     stronger_sx: dict | None, slow: tuple[dict, ...] = ()) -> str:
    """`stronger` (the sharp setting from `cmlm_more`: more sources, more steps) and `stronger_sx` (the `engine`
    setting from there), with their further controls (`slow`)."""
    text = ""
    if distill_ui and more:
        text += (f"**A stronger start: more sources** (`distill_ui`, `cmlm_more`). LibreOffice's UI catalogs hold "
                 f"{distill_ui['ui_pairs']} EN-PT strings, {distill_ui['within_word_limit']} of them with at most 4 "
                 f"target words; {distill_ui['removed_as_help_sources']} of those are sources of the help corpus (any "
                 f"split) and are dropped, and the teacher's outputs for the other {distill_ui['sources']} join the "
                 f"{distill_ui['help_train_sources']} distilled help sources (their UI translations are never trained "
                 f"on). {trained_further(more, 'both')} (at length beam 3, beside its start, in the last table "
                 "below).\n\n")
    text += section_sharp(stronger, {}, title="The sharp setting from the stronger start, over seeds")
    if stronger_sx:
        text += "\n\n" + section_sharp(stronger_sx, {"stronger": stronger},
                                       title="The `engine` setting (O1 temperature 1) from the stronger start, over seeds")
    for control in slow:
        text += "\n\n" + section_slow_control(control, stronger, stronger_sx)
    return text


def section_wide(distill_wide: dict | None, wide: dict | None, wide_sx: dict, decay: dict | None) -> str:
    """`wide_sx`: the `engine` setting from `cmlm_wide` (cmlm_more trained on the 5-8-word sources of
    `distill_wide` too), with its decaying control."""
    text = ""
    if distill_wide and wide:
        low, high = distill_wide["target_words"]
        text += (f"**A start stronger again: longer sources** (`distill_wide`, `cmlm_wide`). The help's training split "
                 f"holds {distill_wide['help_train_sources']} pairs with {low}-{high} target words; the UI catalogs "
                 f"{distill_wide['ui_within_word_limit']}, of which {distill_wide['ui_removed_as_help_sources']} are "
                 f"sources of the help corpus (any split, any length) and are dropped. The teacher's greedy outputs "
                 f"for the {distill_wide['help_train_sources'] + distill_wide['ui_sources']} new sources "
                 f"({distill_wide['seconds']:.0f} s) join distilled-more's {distill_wide['base_sources']}. The test "
                 f"slice keeps at most 4 words. {trained_further(wide, 'them')}.\n\n")
    text += section_sharp(wide_sx, {}, title="The `engine` setting (O1 temperature 1) from cmlm_wide, over seeds")
    if decay:
        text += "\n\n" + section_slow_control(decay, wide_sx)
    return text


def section_edge_by_start(stages: list[dict | None]) -> str:
    """Each setting's edge over its matched control, and over its start, at every start it ran from (labels:
    `confirm`, `sharp`, `stronger`, `stronger_sx`, `wide_sx`; A: the still-encoder pairs), weakest start first: does
    the edge grow with the start?"""
    by_start = []
    for stage in stages:
        for name, start in (stage or {}).get("starts", {}).items():
            points = [p for p in stage["points"] if p.get("start", name) == name]
            if points:
                by_start.append([f"{stage.get('o1_temperature', 1):g}", f"{name} (`{stage['stage']}`)",
                                 f"{start['bleu']:.2f} / {start['chrf']:.1f}",
                                 f"{statistics.mean(p['engine_bleu'] - p['control_bleu'] for p in points):+.2f} / "
                                 f"{statistics.mean(p['engine_chrf'] - p['control_chrf'] for p in points):+.1f}",
                                 f"{sum(p['engine_chrf'] > p['control_chrf'] for p in points)} of {len(points)}",
                                 f"{statistics.mean(p['engine_bleu'] - start['bleu'] for p in points):+.2f} / "
                                 f"{statistics.mean(p['engine_chrf'] - start['chrf'] for p in points):+.1f}",
                                 slashed([start.get("repetition"), mean_of(points, "engine_repetition"),
                                          mean_of(points, "control_repetition")])])
    by_start.sort(key=lambda row: (-float(row[0]), float(row[2].split(" / ")[0])))
    commands = "; ".join(dict.fromkeys(f"`{stage['command']}`" for stage in stages if stage and "command" in stage))
    return ("**ENGINE's edge against the start** (help test set, 1 iteration, length beam 3, means over "
                   "seeds; each row's start as that stage scored it):\n\n"
                   + table(["O1 temperature", "start", "start BLEU / chrF", "ENGINE - control (BLEU / chrF)",
                            "ENGINE above in chrF", "ENGINE - start (BLEU / chrF)",
                            "repetition: start / ENGINE / control"], by_start)
                   + f"\n\n*Commands of the stages the rows name: {commands}.*")


def section_descent(data: dict) -> str:
    """Gradient descent on the start CMLM's logits against the teacher energy: where the energy and operators lead."""
    steps = [str(step) for step in data["steps"]]
    rows = [[key, f"{row['seconds_per_sentence']:.2f}"]
            + [f"{row['steps'][s]['bleu']:.2f} / {row['steps'][s]['chrf']:.1f} / {row['steps'][s]['repetition']:.2f} / "
               f"{row['steps'][s]['teacher_energy']:.2f}" for s in steps]
            for key, row in data["rows"].items()]
    first, last = steps[0], steps[-1]
    summary = [f"{key}: teacher energy {row['steps'][first]['teacher_energy']:.2f} -> "
               f"{row['steps'][last]['teacher_energy']:.2f}, BLEU {row['steps'][first]['bleu']:.2f} -> "
               f"{row['steps'][last]['bleu']:.2f}, chrF {row['steps'][first]['chrf']:.1f} -> "
               f"{row['steps'][last]['chrf']:.1f} after {last} steps" for key, row in data["rows"].items()]
    return ("**Gradient descent on the energy, no network trained** (`descent`: the logits of "
            f"{data['initialised_from']} `{(data.get('model_sha256') or '')[:8]}` on the help test set, 1 iteration at "
            "the lengths its length beam of 3 picks, optimised per sentence by Adam (learning rate "
            f"{data['learning_rate']:g}) against the teacher energy with O2 = ST and the O1 of each row; "
            "`engine_hf.minimize_energy`; each cell scores the argmax output at that step: BLEU / chrF / repetition / "
            "teacher energy, nats per token; seconds per sentence for the whole search on 2 CPU threads)"
            f"{partial_note(data)}:\n\n"
            + table(["search", "s / sentence"] + [f"step {s}" for s in steps], rows)
            + "\n\n" + "\n".join(f"- {line}" for line in summary))


def section_unfrozen(data: dict, engine: dict | None, control: dict | None) -> str:
    """ENGINE and its control with the whole student training, beside the frozen-encoder engine/control stages."""
    title = "**Frozen or not: ENGINE and its control with the whole student training**"
    if data.get("partial"):
        return f"{title} (`unfrozen`): **unfinished**, the stage resumes where it stopped."

    def scores(result: dict, iterations: int) -> str:
        s = result[f"{iterations}_iterations"]["libreoffice"]
        return f"{s['bleu']:.2f} / {s['chrf']:.1f} / {s['repetition']:.2f} / {s['teacher_energy']:.2f}"

    runs = []
    if engine and control:
        runs.append(("encoder + tied embeddings frozen (engine, control stages)", engine, engine["steps"], control,
                     control.get("steps")))  # the control stage records its steps since benchmark B
    runs.append(("nothing frozen (unfrozen stage)", data["engine"], data["steps"], data["control"],
                 data["control_steps"]))
    rows = [row for what, e, e_steps, c, c_steps in runs
            for row in ([what, f"ENGINE ({e_steps} energy steps)", scores(e, 1), scores(e, 10)],
                        [what, f"control ({c_steps} CE steps)" if c_steps else "control (CE, same wall time)",
                         scores(c, 1), scores(c, 10)])]
    frozen_time = f", the frozen ones {engine['train_seconds']:.0f} s" if engine and "train_seconds" in engine else ""
    return (f"{title} (`unfrozen`: the engine stage's settings from {data['initialised_from']}; each unfrozen run "
            f"{data['train_seconds']:.0f} s{frozen_time}; help test set, length beam 3; BLEU / chrF / repetition / "
            "teacher energy):\n\n" + table(["what trains", "system", "1 iteration", "10 iterations"], rows))

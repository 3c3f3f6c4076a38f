"""The studies of decoding rather than training: does the teacher's energy rank outputs as the references do, the
teacher choosing among the length candidates, the length head against the tokens, the length head refitted to the
teacher's choice, and where ENGINE's chrF goes in its outputs."""

from __future__ import annotations

import statistics

from .common import partial_note, table


def section_ranking(data: dict) -> str:
    """Does the teacher's energy rank outputs as the references do? Per-sentence comparisons of the ranking stage."""
    def percent(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.0f}%"

    rows = [["reference", "-", "-", f"{data['reference_teacher_energy']:.2f}", "-"]]
    rows += [[name, f"{r['bleu']:.2f}", r["chrf"], f"{r['teacher_energy']:.2f}",
              f"{percent(r['reference_preferred'])} of {r['differs_from_reference']}"]
             for name, r in data["systems"].items()]
    rerank, oracle = data["energy_rerank"], data["chrf_oracle"]
    picked = ", ".join(f"{name} {count}" for name, count in rerank["picked"].items())
    rows += [[f"NAT outputs reranked by teacher energy (picked: {picked})", f"{rerank['bleu']:.2f}", rerank["chrf"],
              "-", "-"],
             ["NAT outputs, best sentence chrF (oracle)", f"{oracle['bleu']:.2f}", oracle["chrf"], "-", "-"]]
    rows += [[f"{name}, its length candidates reranked by teacher energy", f"{r['bleu']:.2f}", r["chrf"],
              f"{r['teacher_energy']:.2f}", "-"] for name, r in data.get("length_candidates_reranked", {}).items()]
    pairs = [[pair, a["compared"], percent(a["agreement"])] for pair, a in data["agreement"].items()]
    nat = data["agreement_nat"]
    return ("**Does the teacher's energy rank outputs as the references do?** (`ranking`: help test set, "
            f"{data['sentences']} sentences; NAT rows 1 iteration, length beam 3, from {data['initialised_from']}; "
            "teacher energy in nats per token, the reference scored like any output; \"teacher prefers the "
            "reference\" = share of the sentences whose output differs from the reference where the reference's "
            "energy is lower)\n\n"
            + table(["system", "BLEU", "chrF", "teacher energy", "teacher prefers the reference"], rows)
            + "\n\nWhich of two systems' outputs for the same source is better: how often the energy (lower) and "
            "sentence chrF (higher) agree, over the sources where the two outputs and their chrF differ (50% = a "
            f"coin). Pooled over the three NAT pairs: {percent(nat['agreement'])} of {nat['compared']}.\n\n"
            + table(["pair", "sources compared", "energy agrees with chrF"], pairs))


def rescored_pairs(rows: dict) -> list[str]:
    """ENGINE - control for confirm's pairs (same start and seed), with the student's and the teacher's picks."""
    pairs = [(system, "control" + system.removeprefix("ENGINE")) for system in rows
             if system.startswith("ENGINE (confirm") and "control" + system.removeprefix("ENGINE") in rows]
    if not pairs:
        return []
    lines = []
    for n, beam in ((1, 3), (10, 3), (1, 5)):
        parts = []
        for who in ("student", "teacher"):
            key = f"{n} it, length beam {beam}, {who}"
            bleu = [rows[e]["scores"][key]["bleu"] - rows[c]["scores"][key]["bleu"] for e, c in pairs]
            chrf = [rows[e]["scores"][key]["chrf"] - rows[c]["scores"][key]["chrf"] for e, c in pairs]
            parts.append(f"{who} picks {statistics.mean(bleu):+.2f} BLEU / {statistics.mean(chrf):+.1f} chrF, ENGINE "
                         f"above in BLEU in {sum(d > 0 for d in bleu)} of {len(pairs)}")
        lines.append(f"confirm's ENGINE - control (same start and seed), {n} iteration(s), length beam {beam}: "
                         + "; ".join(parts))
    return lines


def section_rescoring(data: dict) -> str:
    """Each NAT model's length candidates chosen by itself and by the teacher, per iterations and length beam."""
    def cell(scores: dict) -> str:
        return f"{scores['bleu']:.2f} / {scores['chrf']:.1f}"

    grids = [row["scores"] for row in data["rows"].values()]
    beams = [beam for beam in (3, 5, 10) if all(f"1 it, length beam {beam}, teacher" in grid for grid in grids)]
    rows, gains = [], {(n, beam): [] for n in (1, 10) for beam in beams}
    for (system, row), grid in zip(data["rows"].items(), grids, strict=True):
        name = f"{system} `{row['model_sha256'][:8]}`" if row.get("model_sha256") else system
        for n in (1, 10):
            rows.append([name, n, cell(grid[f"{n} it, length beam 1, student"])]
                        + [cell(grid[f"{n} it, length beam {beam}, {who}"]) for beam in beams
                           for who in ("student", "teacher")])
            for beam in beams:
                own, teacher = grid[f"{n} it, length beam {beam}, student"], grid[f"{n} it, length beam {beam}, teacher"]
                gains[n, beam].append((teacher["bleu"] - own["bleu"], teacher["chrf"] - own["chrf"]))
    summary = [f"{n} iteration(s), length beam {beam}: teacher picks - student picks = "
               f"{statistics.mean(g[0] for g in points):+.2f} BLEU, {statistics.mean(g[1] for g in points):+.1f} chrF "
               f"on average over {len(points)} model{'s' if len(points) > 1 else ''}; higher BLEU for "
               f"{sum(g[0] > 0 for g in points)} of {len(points)}"
               for (n, beam), points in gains.items() if points]
    summary += rescored_pairs(data["rows"])
    title = ("**The teacher at inference instead of in training: rescoring the length candidates**"
             if data.get("stage", "rescoring") == "rescoring" else
             "**Rescoring the length candidates of the strongest starts**")
    return (f"{title} (`{data.get('stage', 'rescoring')}`: "
            "help test set; each model decodes its length beam's candidates in parallel, then outputs the one it "
            "scores best itself, by mean log-probability, or the one the teacher scores best, by energy, in one "
            "teacher-forced pass: `generate(rescoring_model=teacher)`; BLEU / chrF; the models are those on this "
            "machine when the stage ran, each named with the first digits of its weights' digest (`model_sha256`): "
            "a model rebuilt after the other tables were made is another draw of its recipe)"
            f"{partial_note(data)}:\n\n"
            + table(["system", "iterations", "length beam 1"]
                    + [f"beam {beam}, {who} picks" for beam in beams for who in ("student", "teacher")], rows)
            + "\n\n" + "\n".join(f"- {line}" for line in summary))


def section_lengths_strong(data: dict) -> str:
    """`lengths_strong`: the strong starts' models at predicted and at reference lengths, means over seeds, then
    ENGINE - each control of the same start and seed under both: is the one-pass gap in the length head or the tokens?"""
    def mean(rows: list[dict], kind: str, metric: str) -> float:
        return statistics.mean(r[kind][metric] for r in rows)

    groups: dict[tuple[str, str], list[dict]] = {}
    for row in data["rows"]:
        groups.setdefault((row["stage"], row["system"]), []).append(row)
    start_of = {"stronger": "cmlm_more", "stronger_sx": "cmlm_more", "slow_control": "cmlm_more",
                "decay_control": "cmlm_more", "wide_sx": "cmlm_wide", "wide_decay_control": "cmlm_wide"}

    def against_start(stage: str, group: list[dict]) -> str:
        start = groups.get((start_of.get(stage, ""), "start"))
        if not start:
            return "-"
        return " ; ".join(f"{mean(group, kind, 'bleu') - mean(start, kind, 'bleu'):+.2f} / "
                          f"{mean(group, kind, 'chrf') - mean(start, kind, 'chrf'):+.1f}"
                          for kind in ("predicted_lengths", "oracle_lengths"))

    rows = [[f"`{stage}` {system}" if system != "start" else f"{stage} (start)", len(group),
             *(f"{mean(group, kind, 'bleu'):.2f} / {mean(group, kind, 'chrf'):.1f} / "
               f"{mean(group, kind, 'length_ratio'):.2f}" for kind in ("predicted_lengths", "oracle_lengths")),
             against_start(stage, group),
             f"{mean(group, 'oracle_lengths', 'length_head_offset'):+.2f} / "
             f"{100 * mean(group, 'oracle_lengths', 'length_head_exact'):.0f}%"
             if "length_head_offset" in group[0]["oracle_lengths"] else "-"]
            for (stage, system), group in groups.items()]
    by_key = {(r["stage"], r["system"], r["seed"]): r for r in data["rows"]}
    controls = {"stronger": ("stronger", "slow_control", "decay_control"),
                "stronger_sx": ("stronger_sx", "slow_control", "decay_control"),
                "wide_sx": ("wide_sx", "wide_decay_control")}
    lines = []
    for engine, names in controls.items():
        for control in names:
            pairs = [(r, by_key[control, "control", r["seed"]]) for (stage, system, _), r in by_key.items()
                     if stage == engine and system == "engine" and (control, "control", r["seed"]) in by_key]
            if not pairs:
                continue
            gap = {kind: (statistics.mean(e[kind]["bleu"] - c[kind]["bleu"] for e, c in pairs),
                          statistics.mean(e[kind]["chrf"] - c[kind]["chrf"] for e, c in pairs))
                   for kind in ("predicted_lengths", "oracle_lengths")}
            what = "its matched control (lr 1e-4)" if control == engine else f"`{control}`"
            lines.append(f"`{engine}` ENGINE - {what}, {len(pairs)} seed(s): "
                         f"{gap['predicted_lengths'][0]:+.2f} / {gap['predicted_lengths'][1]:+.1f} at predicted "
                         f"lengths, {gap['oracle_lengths'][0]:+.2f} / {gap['oracle_lengths'][1]:+.1f} at the "
                         "reference lengths")
    lines += [f"{r['stage']} (start) at 10 iterations, length beam 3: {r['refined']['bleu']:.2f} / "
              f"{r['refined']['chrf']:.1f} (its runs' 10-iteration scores are in their own tables)"
              for r in data["rows"] if "refined" in r]
    return ("**Length head or tokens, from the strong starts?** (`lengths_strong`: help test set, one pass; at the "
            "lengths each model predicts, length beam 3, and at the reference lengths; BLEU / chrF / length ratio "
            "in sacrebleu's 13a tokens; means over seeds)" + partial_note(data) + ":\n\n"
            + table(["model", "seeds", "predicted lengths", "reference lengths",
                     "- start, BLEU / chrF (predicted ; reference lengths)",
                     "length head: top length - reference (tokens) / exact"], rows)
            + "\n\n" + "\n".join(f"- {line}" for line in lines))


def section_length_choice(data: dict) -> str:
    """`length_choice`: per start, the start and its two refitted length heads at 1 and 10 iterations, and the head's
    top length against the reference's and the teacher's choice on the test set."""
    def cell(scores: dict) -> str:
        return f"{scores['bleu']:.2f} / {scores['chrf']:.1f} / {scores['length_ratio']:.2f}"

    rows, lines = [], []
    for start, row in data["rows"].items():
        systems = row["systems"]
        for system, result in systems.items():
            head = result["head_on_test"]
            agrees = head["teacher's choice exact"]
            fit = result.get("fit")
            rows.append([f"{start} `{row['model_sha256'][:8]}`" if system == "start" else
                         f"{start}, head refitted to the {system}",
                         cell(result["1 it, length beam 1"]), cell(result["1 it, length beam 3"]),
                         cell(result["10 it, length beam 3"]),
                         f"{100 * head['reference exact']:.0f}% / {head['reference offset']:+.2f}",
                         f"{100 * agrees:.0f}%",
                         "-" if fit is None else f"{100 * fit['agreement_before']:.0f}% -> {100 * fit['agreement_after']:.0f}%"])
        rescored, start_scores = row["start, 1 it, length beam 5, teacher rescoring"], systems["start"]
        for system in (name for name in systems if name != "start"):
            for setting in ("1 it, length beam 1", "1 it, length beam 3"):
                gain = (systems[system][setting]["bleu"] - start_scores[setting]["bleu"],
                        systems[system][setting]["chrf"] - start_scores[setting]["chrf"])
                lines.append(f"{start}, head refitted to the {system}, {setting}: {gain[0]:+.2f} BLEU / "
                             f"{gain[1]:+.1f} chrF against the start")
        lines.append(f"{start} with the teacher choosing among 5 length candidates at inference (the target of the "
                     f"teacher's-choice head): {cell(rescored)}; the teacher's choice equals the training target's "
                     f"length for {100 * row['training_choice_equals_target']:.0f}% of the "
                     f"{row['training_sources']:,} training sources")
    choice = data["setting"]["choice"]
    fit = data["setting"]["fit"]
    return ("**The teacher's choice of length, learnt by the length head** (`length_choice`: the teacher's pick among "
            f"the start's {choice['length_beam']} likeliest lengths after {choice['num_iterations']} iteration(s), on "
            "every training source, then only the length head refitted to it, encoder and decoder unchanged "
            f"({fit['epochs']} epochs of Adam, lr {fit['learning_rate']:g}); the control refits the same head the same "
            "way to the training targets' own lengths. Help test set, BLEU / chrF / length ratio; head: its top "
            "length exact against the reference / mean offset in tokens, exact against the teacher's choice on the "
            f"test sources, and on the training sources before -> after the fit){partial_note(data)}:\n\n"
            + table(["system", "1 it, length beam 1", "1 it, length beam 3", "10 it, length beam 3",
                     "head vs reference", "head = teacher's choice", "fit (train)"], rows)
            + "\n\n" + "\n".join(f"- {line}" for line in lines))


def section_output_chars(data: dict) -> str:
    """ENGINE's, its control's and its start's outputs counted in tokens, words and characters, with BLEU's n-gram
    precisions: where ENGINE's chrF goes."""
    def counted(words: list, sign: int) -> str:
        return ", ".join(f"`{word}` ({sign * n:+d})" for word, n in words[:8]) or "nothing"

    def label(pair: dict) -> str:
        return f"{pair['stage']}: {pair['start']}, seed {pair['seed']}"

    ref = data["reference"]
    rows, summary = [], []
    for pair in data["pairs"]:
        systems = pair["systems"]
        for who in ("start", "engine", "control"):
            row = systems[who]
            rows.append([label(pair), who, f"{row['bleu']:.2f}", f"{row['chrf']:.1f}",
                         " / ".join(f"{p:.1f}" for p in row["precisions"]), f"{row['brevity_penalty']:.3f}",
                         row["tokens"], row["words"], row["characters"],
                         f"{row['characters'] / ref['characters']:.3f}", f"{row['characters'] / row['tokens']:.2f}",
                         row["words_13a"], row["punctuation_13a"]])
        engine, control = systems["engine"], systems["control"]
        lower = sum(e < c for e, c in zip(engine["sentence_chrf"], control["sentence_chrf"], strict=True))
        higher = sum(e > c for e, c in zip(engine["sentence_chrf"], control["sentence_chrf"], strict=True))
        summary.append(
            f"{label(pair)}: ENGINE - control {engine['tokens'] - control['tokens']:+d} tokens "
            f"({engine['tokens'] / control['tokens'] - 1:+.1%}), {engine['words'] - control['words']:+d} words, "
            f"{engine['characters'] - control['characters']:+d} characters "
            f"({engine['characters'] / control['characters'] - 1:+.1%}); n-gram precisions "
            + " / ".join(f"{e - c:+.1f}" for e, c in zip(engine["precisions"], control["precisions"], strict=True))
            + f"; {engine['punctuation_13a'] - control['punctuation_13a']:+d} punctuation marks "
            f"({engine['punctuation_13a'] / control['punctuation_13a'] - 1:+.0%}); sentence chrF lower in {lower}, "
            f"higher in {higher} of {len(engine['sentence_chrf'])}; ENGINE writes more "
            f"{counted(pair['engine_more'], 1)}; less {counted(pair['engine_less'], -1)}")
    gone = f" Pairs whose models were gone: {'; '.join(data['gone'])}." if data["gone"] else ""
    stages = ", ".join(f"`{stage}`" for stage in data.get("stages", ("still_long_seeds", "still_rebuilt")))
    return (f"**Where ENGINE's chrF goes** (`output_chars`: the pairs of {stages} whose "
            f"models were on disk, decoded again as they were scored: help test set, {data['sentences']} sentences, "
            "1 iteration, length beam 3; BLEU's 1-4-gram precisions; tokens without specials; characters without "
            "spaces; 13a words as BLEU splits them, punctuation marks among them; the references have "
            f"{ref['words']} words, {ref['characters']} characters, {ref['words_13a']} 13a words and "
            f"{ref['punctuation_13a']} punctuation marks).{gone}\n\n"
            + table(["pair", "system", "BLEU", "chrF", "precisions 1-4", "BP", "tokens", "words", "characters",
                     "characters / reference", "characters / token", "13a words", "punctuation"], rows)
            + "\n\n" + "\n".join(f"- {line}" for line in summary))

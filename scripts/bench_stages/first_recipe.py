"""The first recipe's studies (from cmlm_kd and cmlm_long, encoder dropout on): the sweep of settings, lengths,
the gain against the start, seeds, ranking, budget, the unfrozen student, rescoring, descent and the sharp O1."""

from __future__ import annotations

import itertools
import shutil
import time
from pathlib import Path

import torch

from .comparisons import Comparisons
from .records import (
    LogHistory,
    oracle_length_scores,
    pairwise_agreement,
    pooled_agreement,
    share,
    training_log,
    weights_digest,
)
from .settings import (
    DESCENT,
    DESCENT_LEARNING_RATE,
    DESCENT_STEPS,
    ENGINE,
    SHARP,
    SHARPER,
    SWEEP,
)


def gain_point(checkpoint: str, start: dict, engine: dict, control: dict, ten: dict | None = None) -> dict:
    """One point of the gain plot: the starting CMLM, ENGINE from it, and the matched control from it (1 iteration).

    `ten` adds the same three models' scores at 10 iterations ({"start": ..., "engine": ..., "control": ...}) as
    `<name>_bleu_10` and `<name>_chrf_10`: refinement changes which model is ahead (points from before this was
    recorded have none).
    """
    point = {"checkpoint": checkpoint, **{f"{name}_{metric}": scores[metric] for name, scores in
                                          (("start", start), ("engine", engine), ("control", control))
                                          for metric in ("bleu", "chrf", "repetition")}}
    for name, scores in (ten or {}).items():
        point.update({f"{name}_bleu_10": scores["bleu"], f"{name}_chrf_10": scores["chrf"]})
    return point


class FirstRecipeStages(Comparisons):
    """The first recipe (dropout on in the frozen encoder) probed from every side: which setting, which lengths, which
    start, how many seeds, whether the energy ranks outputs as chrF does, more compute, a trainable encoder, the
    teacher at inference, the energy's own descent, and a sharper O1."""

    def stage_sweep(self) -> None:
        """Which ENGINE settings beat spending the same compute on cross-entropy? Dev-set help BLEU, 1 iteration.

        Every setting trains the same number of energy steps from the same CMLM, so the `control` stage (CE for
        ENGINE's wall time) is the matched baseline of each. Rows are kept as they finish (resumable).
        """
        name, start = self.better_cmlm()
        dev = dict(split="validation", corpora=("libreoffice",), num_iterations=1, length_beam=3)
        rows = self.finished_rows("sweep")
        about = {"initialised_from": name, "steps": self.budget["energy_steps"], "split": "validation"}
        reference_points = {"cmlm (start)": start, "control (CE, lr 0.0001)": self.root / "control",
                            ENGINE.key: self.root / "engine"}
        for key, model in reference_points.items():
            if key not in rows:
                rows[key] = self.evaluate(model, **dev)["libreoffice"]
        for setting in SWEEP:
            if setting.key in rows:
                continue
            out = self.root / "sweep" / setting.folder
            seconds, logged = self.train_energy(out, start, self.budget["energy_steps"], corpus=self.corpus_of(name),
                                                learning_rate=setting.learning_rate, ce_weight=setting.ce_weight,
                                                o1=setting.o1, save_strategy="no")
            rows[setting.key] = {**self.evaluate(out, **dev)["libreoffice"], "train_seconds": seconds,
                         "train_log": training_log(logged)}
            self.write("sweep", {**about, "rows": rows, "partial": True})
        self.write("sweep", {**about, "rows": rows, "partial": False})

    def stage_lengths(self) -> None:
        """Is it the length head or the tokens? Each model on the dev set at its predicted lengths and at oracle ones.

        ENGINE lowers chrF by 5+ points even where BLEU holds (sweep). If its outputs are also poor at the reference
        lengths, the tokens changed; if only at predicted lengths, the length head did.
        """
        dev = dict(split="validation", corpora=("libreoffice",), num_iterations=1, length_beam=3)
        models = {"cmlm (start)": self.better_cmlm()[1], "control (CE, lr 0.0001)": self.root / "control",
                  ENGINE.key: self.root / "engine",
                  **{setting.key: self.root / "sweep" / setting.folder for setting in SWEEP}}
        rows = {name: {"predicted_lengths": self.evaluate(model, **dev)["libreoffice"],
                       "oracle_lengths": oracle_length_scores(model, self.teacher_dir, self.data())}
                for name, model in models.items() if (model / "config.json").exists()}
        self.write("lengths", {"split": "validation", "rows": rows})

    def stage_cmlm_long(self) -> None:
        """The distilled CMLM trained further with cross-entropy (lr 3e-4, decaying): a stronger start for ENGINE."""
        out = self.root / "cmlm_long"
        seconds = self.train_long(out, self.root / "cmlm_kd")
        self.write("cmlm_long", {"initialised_from": "cmlm_kd", "train_seconds": seconds, "steps": self.budget["long_steps"],
                                 "learning_rate": 3e-4, "model": str(out), "model_sha256": weights_digest(out),
                                 **self.evaluate_nat(out, length_beam=5)})

    def stage_gain(self) -> None:
        """ENGINE gain against the starting CMLM's strength: ENGINE and a matched control from several CMLMs.

        The points: the distilled CMLM (its ENGINE and control are the `engine` and `control` stages), then the
        `cmlm_long` checkpoints (the same CMLM trained further). From each, ENGINE (the `engine` stage's settings)
        and the control (CE for ENGINE's wall time) run alone on the machine. Points are kept as they finish.
        """
        from engine_hf.training import StopAfterSeconds

        test = dict(corpora=("libreoffice",), num_iterations=1, length_beam=3)
        ten = {**test, "num_iterations": 10}
        points = {p["checkpoint"]: p for p in self.read("gain")["points"]} if self.result_path("gain").exists() else {}
        about = {"corpus": self.corpus_of("cmlm_kd"), "energy_steps": self.budget["energy_steps"]}
        name, start_dir = self.better_cmlm()  # the engine and control stages' start: their runs are this point's
        if name not in points:
            start = self.evaluate(start_dir, **test)["libreoffice"]
            stage = {who: self.read(who) for who in ("engine", "control")}
            points[name] = gain_point(name, start, *(stage[who]["1_iterations"]["libreoffice"] for who in stage),
                                      ten={"start": self.evaluate(start_dir, **ten)["libreoffice"],
                                           **{who: stage[who]["10_iterations"]["libreoffice"] for who in stage}})
        long = self.trained("cmlm_long")
        starts = sorted(long.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
        starts = [p for p in starts if int(p.name.split("-")[1]) < self.budget["long_steps"]] + [long]
        for start_dir in starts:
            key = "cmlm_long" if start_dir == long else f"cmlm_long/{start_dir.name}"
            if key in points:
                continue
            out = self.root / "gain" / key.replace("/", "-")
            seconds, logged = self.train_energy(out / "engine", start_dir, self.budget["energy_steps"],
                                                corpus=about["corpus"], save_strategy="no")
            self.train_cmlm(out / "control", about["corpus"], 10**6, student_model=str(start_dir),
                            callbacks=[StopAfterSeconds(seconds)], learning_rate=1e-4, warmup_steps=0,
                            lr_scheduler_type="constant", save_strategy="no")
            models = (("start", start_dir), ("engine", out / "engine"), ("control", out / "control"))
            scores = {name: self.evaluate(path, **test)["libreoffice"] for name, path in models}
            points[key] = {**gain_point(key, scores["start"], scores["engine"], scores["control"],
                                        ten={name: self.evaluate(path, **ten)["libreoffice"] for name, path in models}),
                           "engine_train_log": training_log(logged)}
            self.write("gain", {**about, "points": list(points.values()), "partial": True})
        self.write("gain", {**about, "points": list(points.values()), "partial": False})

    def stage_confirm(self) -> None:
        """The sweep's winner, confirmed where the sweep never looked: the test set, other seeds, a stronger start.

        The sweep picks ENGINE's setting on 200 dev segments with one seed, from one start; its best row beat the
        control by less than the noise of such a slice. Here that setting (best dev BLEU among the ENGINE rows) runs
        from the sweep's start and from `cmlm_long`, once per seed, each run with a control of its own (the same
        seed, CE at lr 1e-4 for that run's wall time), all scored on the test set. Points are kept as they finish;
        a point from before the teacher energy was recorded is re-scored from its saved models (`--force` reruns the
        stage without retraining finished points). On a benchmark without the sweep (B, labels) it runs the `engine`
        stage's setting from that stage's start, and from `cmlm_long` where the benchmark trains one (labels): is a
        one-seed tie, or a one-seed gain from the strongest start, still there over seeds?
        """
        if "sweep" in self.benchmark.stages or self.done("sweep"):
            name, start_dir = self.better_cmlm()  # the sweep's own start
            starts = {name: start_dir}
            if not self.done("sweep"):
                raise SystemExit(f"confirm runs the sweep's best setting, and the sweep is not finished: python "
                                 f"scripts/bench.py {self.flags}--stages sweep" + (" --quick" if self.quick else ""))
            sweep = self.read("sweep")
            settings = {setting.key: setting for setting in (ENGINE, *SWEEP)}
            candidates = [key for key in sweep["rows"] if key in settings]
            chosen = max(candidates, key=lambda key: sweep["rows"][key]["bleu"])
            selected_on = "dev BLEU (sweep stage)"
        else:  # a benchmark without the sweep (B, labels): the `engine` stage's own setting, from that stage's start
            name = self.read("engine")["initialised_from"]
            starts = {name: self.trained(name)}
            candidates, chosen, selected_on = [ENGINE.key], ENGINE.key, "the engine stage's setting (no sweep here)"
        if "cmlm_long" in self.benchmark.stages:  # the stronger start, where the energy should guide best
            starts["cmlm_long"] = self.trained("cmlm_long")
        setting = {candidate.key: candidate for candidate in (ENGINE, *SWEEP)}[chosen]
        self.check_setting("confirm", setting)  # before anything is rescored or written
        if self.result_path("confirm").exists():  # points from before the teacher energy was recorded: scored again
            previous = self.read("confirm")
            stale = [point for point in previous.get("points", []) if "engine_teacher_energy" not in point and (
                self.root / "confirm" / f"{point['start']}-seed{point['seed']}" / "control" / "config.json").exists()]
            for point in stale:
                point.update(self.scored_pair(self.root / "confirm" / f"{point['start']}-seed{point['seed']}"))
            if stale:
                self.write("confirm", previous)
        self.matched_seeds("confirm", setting, starts, selected_on, extra={"candidates": candidates})

    def stage_ranking(self) -> None:
        """Does the teacher's energy rank translations the way the references do? The premise ENGINE rests on.

        ENGINE helps only if lowering the teacher's energy moves outputs towards the references. Here, on the help
        test slice, every system's output and the reference itself are scored by the teacher, sentence by sentence:
        how often the teacher prefers the reference to a system's output, how often the energy and sentence chrF
        agree on which of two systems' outputs for the same source is better, and what choosing among the NAT
        outputs by energy (a teacher rerank) scores. Decoding only; no training.
        """
        import sacrebleu
        from transformers import AutoTokenizer

        from engine_hf import corpus_scores, load_teacher, repetition_rate
        from engine_hf.inference import decode, generation_kwargs, load_model, teacher_energy_of_references
        from engine_hf.training import load_corpus_splits

        pairs = load_corpus_splits(self.data())["test"]["translation"]
        sources = [pair[self.benchmark.src] for pair in pairs]
        references = [pair[self.benchmark.tgt] for pair in pairs]
        teacher = load_teacher(str(self.teacher_dir))
        name, start = self.better_cmlm()
        nat = dict(num_iterations=1, length_beam=3)
        systems = {"teacher greedy": (self.teacher_dir, dict(num_beams=1)),
                   "teacher beam 4": (self.teacher_dir, dict(num_beams=4)),
                   f"CMLM start ({name})": (start, nat), "control": (self.root / "control", nat),
                   "ENGINE": (self.root / "engine", nat)}
        outputs, length_reranked = {}, {}
        for system, (path, settings) in systems.items():
            model, tokenizer = load_model(str(path))
            outputs[system] = decode(model, tokenizer, sources, teacher,
                                     **generation_kwargs(model, settings.get("num_iterations"),
                                                         settings.get("length_beam"), settings.get("num_beams", 1)))
            if settings is nat:
                rescored = decode(model, tokenizer, sources, teacher, rescoring_model=teacher, **nat)
                length_reranked[system] = {**corpus_scores(rescored.hypotheses, references),
                                           "teacher_energy": rescored.teacher_energy.mean().item()}
        reference_energy = teacher_energy_of_references(teacher, AutoTokenizer.from_pretrained(self.teacher_dir),
                                                        sources, references).tolist()
        sentence_chrf = {system: [sacrebleu.sentence_chrf(hyp, [ref]).score
                                  for hyp, ref in zip(out.hypotheses, references, strict=True)]
                         for system, out in outputs.items()}
        energies = {system: out.teacher_energy.tolist() for system, out in outputs.items()}
        rows = {}
        for system, out in outputs.items():
            differs = [i for i, hyp in enumerate(out.hypotheses) if hyp != references[i]]
            rows[system] = {**corpus_scores(out.hypotheses, references), "repetition": repetition_rate(out.token_rows),
                            "teacher_energy": sum(energies[system]) / len(sources),
                            "reference_preferred": share(reference_energy[i] < energies[system][i] for i in differs),
                            "differs_from_reference": len(differs)}
        agreement = {f"{a} vs {b}": pairwise_agreement(outputs[a].hypotheses, outputs[b].hypotheses, energies[a],
                                                       energies[b], sentence_chrf[a], sentence_chrf[b])
                     for a, b in itertools.combinations(outputs, 2)}
        # The NAT outputs are what ENGINE chooses between; teacher-vs-NAT pairs are easy (both measures see the gap).
        pool = [f"CMLM start ({name})", "control", "ENGINE"]
        picks = [min(pool, key=lambda system: energies[system][i]) for i in range(len(sources))]
        best = [max(pool, key=lambda system: sentence_chrf[system][i]) for i in range(len(sources))]
        self.write("ranking", {
            "split": "test", "corpus": "libreoffice", "sentences": len(sources), "initialised_from": name,
            "reference_teacher_energy": sum(reference_energy) / len(sources), "systems": rows,
            "agreement": agreement,
            "agreement_nat": pooled_agreement(agreement[f"{a} vs {b}"] for a, b in itertools.combinations(pool, 2)),
            "energy_rerank": {"pool": pool, **corpus_scores([outputs[s].hypotheses[i] for i, s in enumerate(picks)],
                                                            references),
                              "picked": {system: picks.count(system) for system in pool}},
            "chrf_oracle": {"pool": pool, **corpus_scores([outputs[s].hypotheses[i] for i, s in enumerate(best)],
                                                          references)},
            "length_candidates_reranked": length_reranked})

    def stage_budget(self) -> None:
        """Does ENGINE's gain over the control grow with compute? The engine stage's run (same start, settings and
        seed) trained 4x as many steps, against one control run at the same wall times (`compute_curve`).

        Why: at 200 steps ENGINE lowered the teacher energy of its outputs on B and tied the control in BLEU; if the
        energy keeps falling, does BLEU start to follow, or does the control pull away? Where the benchmark runs
        `sharp` (labels), the run is that stage's instead (`SHARP` from `sharp_start`): the one setting that moved
        ENGINE up over seeds, does its chrF edge grow with compute?
        """
        (name, start), setting = (self.sharp_start(), SHARP) if "sharp" in self.benchmark.stages else (
            self.better_cmlm(), ENGINE)
        self.compute_curve("budget", name, start, setting)

    def sharp_start(self) -> tuple[str, Path]:
        """Where `sharp` and `descent` start: `cmlm_long` where the benchmark trains one, else ENGINE's start."""
        return ("cmlm_long", self.trained("cmlm_long")) if "cmlm_long" in self.benchmark.stages else self.better_cmlm()

    def stage_unfrozen(self) -> None:
        """ENGINE and its matched control with nothing frozen, from the engine stage's start and settings.

        Why: every other stage freezes the teacher-initialised encoder, and with it the token embeddings that the
        decoder's input and output layer share, so energy training can move only the decoder layers and the length
        head; the output layer (which ranks the whole vocabulary at each position) stays the teacher's. Unfreezing
        it lets the energy reshape the output distribution directly, and the control gets the same freedom and the
        same wall time. A run killed midway is redone from its start (its clock would be wrong).
        """
        from engine_hf.training import StopAfterSeconds

        name, start = self.better_cmlm()
        out, corpus = self.root / "unfrozen", self.corpus_of(name)
        record = self.read("unfrozen") if self.result_path("unfrozen").exists() else {}
        about = {"initialised_from": name, "corpus": corpus, "steps": self.budget["energy_steps"], "o1": ENGINE.o1,
                 "o2": "st", "learning_rate": ENGINE.learning_rate, "ce_weight": ENGINE.ce_weight,
                 "control_learning_rate": 1e-4, "freeze_encoder": False}
        if "train_seconds" not in record:
            shutil.rmtree(out / "engine", ignore_errors=True)
            seconds, logged = self.train_energy(out / "engine", start, self.budget["energy_steps"], corpus=corpus,
                                                freeze_encoder=False, save_strategy="no")
            record = {**about, "train_seconds": seconds, "train_log": training_log(logged)}
            self.write("unfrozen", {**record, "partial": True})
        if "control_steps" not in record:
            shutil.rmtree(out / "control", ignore_errors=True)
            clock = LogHistory()
            self.train_cmlm(out / "control", corpus, 10**6, student_model=str(start), freeze_encoder=False,
                            callbacks=[StopAfterSeconds(record["train_seconds"]), clock], learning_rate=1e-4,
                            warmup_steps=0, lr_scheduler_type="constant", save_strategy="no")
            record.update(control_steps=clock.steps, control_train_seconds=clock.seconds)
            self.write("unfrozen", {**record, "partial": True})
        self.write("unfrozen", {**record, "engine": self.evaluate_nat(out / "engine", length_beam=3),
                                "control": self.evaluate_nat(out / "control", length_beam=3), "partial": False})

    def stage_rescoring(self) -> None:
        """The teacher at inference time instead of in training: which length candidate to output, chosen by the
        teacher's energy (`generate(rescoring_model=teacher)`) against the student's own mean log-probability.

        Why: `ranking` found the energy a good judge of finished outputs and a poor teacher through the relaxed
        operators. Rescoring costs one teacher-forced pass over the candidates, every position at once (its speed
        is in scripts/bench_speed.py). Every NAT model still on this machine is scored: the ENGINE start, cmlm_long,
        the engine and control stages, and confirm's ENGINE and control runs (every start and seed), at 1 and 10
        iterations and length beam 1 (nothing to choose), 3, 5 and 10. Decoding only; resumable per score, and
        `--force` adds the models and scores missing since (finished ones are kept unless the model's weights changed).
        """
        name, start = self.better_cmlm()
        candidates = {f"CMLM start ({name})": start, "cmlm_long": self.root / "cmlm_long",
                      "ENGINE (engine stage)": self.root / "engine", "control (control stage)": self.root / "control"}
        for run in sorted((self.root / "confirm").glob("*-seed*")):
            point, seed = run.name.rsplit("-seed", 1)
            candidates |= {f"{system} (confirm, {point}, seed {seed})": run / folder
                           for system, folder in (("ENGINE", "engine"), ("control", "control"))}
        self.rescore("rescoring", candidates)

    def stage_descent(self) -> None:
        """Gradient descent on the logits themselves (`engine_hf.minimize_energy`), from `sharp_start`, on the test
        slice: no network is trained, so whether the discrete energy and chrF move says whether the energy and the
        operators point towards better outputs at all, apart from whether training a network follows them.

        The start is the CMLM's one parallel pass at the lengths it picks itself (1 iteration, length beam 3, as in
        `confirm`); each search in `DESCENT` (O2 = ST) runs Adam on those logits and is scored at the steps in
        `DESCENT_STEPS` like any output (BLEU, chrF, repetition, the teacher energy of the argmax), with its cost.
        """
        from engine_hf import corpus_scores, load_teacher, minimize_energy, repetition_rate
        from engine_hf.inference import generate_ids, load_model
        from engine_hf.teacher import teacher_energy_of_outputs
        from engine_hf.training import load_corpus_splits

        name, start_dir = self.sharp_start()
        pairs = load_corpus_splits(self.data())["test"]["translation"]
        sources = [pair[self.benchmark.src] for pair in pairs]
        references = [pair[self.benchmark.tgt] for pair in pairs]
        teacher = load_teacher(str(self.teacher_dir))
        model, tokenizer = load_model(str(start_dir))
        special = set(tokenizer.all_special_ids)
        starts = []  # (source indices, tokenized batch, chosen lengths, the pass's logits at those lengths)
        for indices, batch, output in generate_ids(model, tokenizer, sources, 64, num_iterations=1, length_beam=3,
                                                   return_dict_in_generate=True):
            lengths = output.lengths.clamp(min=1)
            with torch.no_grad():
                logits = model(**batch, target_lengths=lengths).logits
            starts.append((indices, batch, lengths, logits))
        rows = self.finished_rows("descent")
        for o1, temperature in DESCENT:
            key = f"O1 {o1.upper()}, temperature {temperature:g}"
            if key in rows:
                continue
            hypotheses = {step: [""] * len(sources) for step in DESCENT_STEPS}
            token_rows = {step: [[] for _ in sources] for step in DESCENT_STEPS}
            energies = {step: torch.zeros(len(sources)) for step in DESCENT_STEPS}
            began = time.perf_counter()
            for indices, batch, lengths, logits in starts:
                mask = torch.arange(logits.shape[1]) < lengths[:, None]
                found = minimize_energy(teacher, logits, mask, batch["input_ids"], batch["attention_mask"],
                                        max(DESCENT_STEPS), DESCENT_LEARNING_RATE, o1, "st", temperature,
                                        checkpoints=DESCENT_STEPS)
                for step, found_logits in found.items():
                    sequences = model._finalise(found_logits.argmax(-1), lengths)
                    energies[step][indices] = teacher_energy_of_outputs(
                        teacher, batch["input_ids"], batch["attention_mask"], sequences, tokenizer.pad_token_id)
                    for i, text, row in zip(indices, tokenizer.batch_decode(sequences, skip_special_tokens=True),
                                            sequences.tolist(), strict=True):
                        hypotheses[step][i], token_rows[step][i] = text, [t for t in row if t not in special]
            rows[key] = {"o1": o1, "o1_temperature": temperature, "o2": "st",
                         "seconds_per_sentence": (time.perf_counter() - began) / len(sources),
                         "steps": {str(step): {**corpus_scores(hypotheses[step], references),
                                               "repetition": repetition_rate(token_rows[step]),
                                               "teacher_energy": energies[step].mean().item()}
                                   for step in DESCENT_STEPS}}
            self.write("descent", {**self.descent_about(name, start_dir), "rows": rows, "partial": True})
        self.write("descent", {**self.descent_about(name, start_dir), "rows": rows, "partial": False})

    def descent_about(self, name: str, start_dir: Path) -> dict:
        return {"split": "test", "corpus": "libreoffice", "initialised_from": name,
                "model_sha256": weights_digest(start_dir), "learning_rate": DESCENT_LEARNING_RATE,
                "steps": list(DESCENT_STEPS), "start_decoding": {"num_iterations": 1, "length_beam": 3}}

    def stage_sharp(self) -> None:
        """The `engine` setting with a sharpened O1 (`SHARP`: the teacher reads softmax(z / 0.25)), each run against
        a matched control of its own, seeds as in `confirm`, from `sharp_start` and then from the engine stage's start.

        Why: with O1 = SX the teacher reads a mixture of embeddings; on a flat student that mixture is far from the
        tokens the student emits, and training lowered the mixture's energy without lowering the emitted tokens'
        (Reading A). In the `descent` stage, gradient descent on the logits themselves lowers the discrete energy at
        O1 temperature 1 and more at 0.25. Does training the network with the sharper O1 follow? Compare with the
        `confirm` points of the same start and seeds (O1 temperature 1). Results written before the second start
        was added (one start, points without a `start`) are read as that start's points.
        """
        starts = dict([self.sharp_start()])
        if self.done("engine") and self.read("engine")["initialised_from"] not in starts:
            name = self.read("engine")["initialised_from"]
            starts[name] = self.trained(name)
        self.matched_seeds("sharp", SHARP, starts, "a first look at 64 dev labels, before any test run (`SHARP` in "
                                                   "scripts/bench_stages/settings.py)")

    def stage_sharper(self) -> None:
        """`sharp` at O1 temperature 0.1 (`SHARPER`), from `sharp_start` only, seeds and controls as there.

        Why: on the dev look that chose 0.25, chrF rose from temperature 1 to 0.5 to 0.25; does the trend go on, or
        does the softmax's gradient, which vanishes away from near-ties as the temperature falls, stop the training?
        Chosen after `sharp`'s test results (the next step down), so it is an exploration, not a selection.
        """
        self.matched_seeds("sharper", SHARPER, dict([self.sharp_start()]),
                           "nothing: the next step down from `sharp`, after its test results (`SHARPER` in "
                           "scripts/bench_stages/settings.py)")

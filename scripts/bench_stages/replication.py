"""The paper's pipeline at small scale (the issue's items 1-6): teacher greedy and beam, distillation, the CMLMs on
references and on the distilled outputs, ENGINE and its matched control, the examples, the paper's Table 2, and its
model selection on dev energy (`engine_selected`)."""

from __future__ import annotations

import itertools

from .comparisons import Comparisons
from .records import LogHistory, corpus_digest, dev_curve, oracle_length_scores, training_log, weights_digest
from .settings import ENGINE, START_CHOICE_DECODING


class ReplicationStages(Comparisons):
    """The issue's items, in the order `make bench` runs them: the teacher, its distilled outputs, the CMLMs on them
    and on the references, the better of the two on dev, ENGINE from it with its matched control, examples, the 25
    operator pairs; then (in `make bench-all` only) the paper's model selection on dev energy."""

    def stage_teacher(self) -> None:
        self.write("teacher", {"greedy": self.evaluate(self.teacher_dir, num_beams=1),
                               "beam4": self.evaluate(self.teacher_dir, num_beams=4)})

    def stage_distill(self) -> None:
        seconds = self.distill()
        self.write("distill", {"sources": self.budget["distill_sources"], "num_beams": self.budget["distill_beams"],
                               "seconds": seconds, "corpus": str(self.root / "distilled"),
                               "train_sha256": corpus_digest(self.root / "distilled")})

    def stage_cmlm_kd(self) -> None:
        out = self.root / "cmlm_kd"
        seconds = self.train_cmlm(out, str(self.root / "distilled"), self.budget["cmlm_steps"])
        self.write("cmlm_kd", {"train_seconds": seconds, "steps": self.budget["cmlm_steps"], "model": str(out),
                               "model_sha256": weights_digest(out),
                               **self.evaluate_nat(out, length_beam=5)})

    def stage_start_choice(self) -> None:
        """The issue's "better CMLM" for ENGINE and its control: `cmlm_kd` or `cmlm_ref`, by dev BLEU at one pass.

        Run after ENGINE (records older than this stage), it checks the start ENGINE took instead of choosing it."""
        bleu = self.dev_bleu_of_cmlms()
        record = {"dev_bleu": bleu, "better": max(bleu, key=bleu.get),
                  "digests": {name: self.read(name).get("model_sha256") for name in bleu},
                  "decoding": {k: v for k, v in START_CHOICE_DECODING.items() if k != "corpora"}}
        if self.done("engine"):
            record["engine_started_from"] = self.read("engine")["initialised_from"]
        self.write("start_choice", record)

    def stage_engine(self) -> None:
        name, start = self.chosen_cmlm()  # chosen afresh, even over an engine record that --force replaces
        out = self.root / "engine"
        seconds, logged = self.train_energy(out, start, self.budget["energy_steps"], corpus=self.corpus_of(name))
        self.write("engine", {"initialised_from": name, "corpus": self.corpus_of(name), "train_seconds": seconds,
                              "steps": self.budget["energy_steps"], "o1": ENGINE.o1, "o2": "st",
                              "learning_rate": ENGINE.learning_rate, "ce_weight": ENGINE.ce_weight, "model": str(out),
                              "train_log": training_log(logged),
                              **self.evaluate_nat(out, length_beam=3)})

    def stage_control(self) -> None:
        from engine_hf.training import StopAfterSeconds

        name, start = self.better_cmlm()
        budget = self.read("engine")["train_seconds"]
        out = self.root / "control"
        clock = LogHistory()
        self.train_cmlm(out, self.corpus_of(name), 10**6, student_model=str(start),
                        callbacks=[StopAfterSeconds(budget), clock], learning_rate=1e-4, warmup_steps=0,
                        lr_scheduler_type="constant")
        self.write("control", {"initialised_from": name, "train_seconds": clock.seconds, "steps": clock.steps,
                               "budget_seconds": budget, "model": str(out), **self.evaluate_nat(out, length_beam=3)})

    def stage_cmlm_ref(self) -> None:
        out = self.root / "cmlm_ref"
        seconds = self.train_cmlm(out, "libreoffice", self.budget["cmlm_steps"])
        self.write("cmlm_ref", {"train_seconds": seconds, "steps": self.budget["cmlm_steps"], "model": str(out),
                               "model_sha256": weights_digest(out),
                                **self.evaluate_nat(out, length_beam=5)})

    def stage_examples(self) -> None:
        """What a reader needs besides the scores: corpus and model sizes, and outputs side by side."""
        from engine_hf.inference import load_model, translate
        from engine_hf.training import load_corpus_splits

        sizes = {corpus: {split: len(rows) for split, rows in load_corpus_splits(self.data(corpus)).items()}
                 for corpus in (*self.benchmark.test_corpora, str(self.root / "distilled"))}
        parameters = {}
        models = {self.teacher_dir.name: self.teacher_dir,
                  **{name: self.root / name for name in ("cmlm_ref", "cmlm_kd", "engine")}}
        for name, path in models.items():
            model, _ = load_model(str(path))
            parameters[name] = {"total": sum(p.numel() for p in model.parameters()),
                                "config": {k: getattr(model.config, k, None) for k in
                                           ("d_model", "encoder_layers", "decoder_layers", "vocab_size")}}
        test = load_corpus_splits(self.data())["test"]["translation"]
        picks = [test[i] for i in range(0, len(test), max(1, len(test) // 6))][:6]
        src, tgt = self.benchmark.src, self.benchmark.tgt
        sources = [pair[src] for pair in picks]
        systems = {"teacher (greedy)": dict(model=self.teacher_dir, num_beams=1),
                   "CMLM references, 1 it.": dict(model=self.root / "cmlm_ref", num_iterations=1, length_beam=5),
                   "CMLM distilled, 1 it.": dict(model=self.root / "cmlm_kd", num_iterations=1, length_beam=5),
                   "control, 1 it.": dict(model=self.root / "control", num_iterations=1, length_beam=3),
                   "ENGINE, 1 it.": dict(model=self.root / "engine", num_iterations=1, length_beam=3),
                   "ENGINE, 10 it.": dict(model=self.root / "engine", num_iterations=10, length_beam=3)}
        outputs = {name: list(translate(str(kw.pop("model")), sources, **kw)) for name, kw in systems.items()}
        rows = [{"source": pair[src], "reference": pair[tgt], **{name: out[i] for name, out in outputs.items()}}
                for i, pair in enumerate(picks)]
        self.write("examples", {"corpus_sizes": sizes, "parameters": parameters, "student_config": self.benchmark.student_config,
                                "examples": rows})

    def stage_table2(self) -> None:
        """25 short runs; each pair's scores are written as it finishes, so a killed stage resumes at the next pair."""
        name, start = self.better_cmlm()
        rows = self.finished_rows("table2")
        about = {"initialised_from": name, "steps_per_pair": self.budget["table2_steps"],
                 "learning_rate": self.budget["table2_learning_rate"]}
        for o1, o2 in itertools.product(["sx", "stl", "sg", "st", "gx"], repeat=2):
            key = f"{o1}/{o2}"
            if key in rows:
                continue
            out = self.root / "table2" / f"{o1}-{o2}"
            _, logged = self.train_energy(out, start, self.budget["table2_steps"], corpus=self.corpus_of(name), o1=o1,
                                          o2=o2, ce_weight=0.0, learning_rate=self.budget["table2_learning_rate"],
                                          save_strategy="no", logging_steps=max(1, self.budget["table2_steps"] // 4))
            rows[key] = {**oracle_length_scores(out, self.teacher_dir, self.data()), "train_log": training_log(logged)}
            self.write("table2", {**about, "rows": rows, "partial": True})
        rows["cmlm_init"] = oracle_length_scores(start, self.teacher_dir, self.data())
        self.write("table2", {**about, "rows": rows, "partial": False})

    def stage_engine_selected(self) -> None:
        """ENGINE as the paper selects it: the checkpoint with the lowest dev discrete energy (argmax outputs at
        the reference lengths), evaluated every `logging_steps`. The engine stage's settings, but a run of its own:
        the evaluations draw from the random-number stream, so its batches and dropout differ from the engine's.

        Why: the relaxed energy training minimises can fall while the discrete one rises (lengths table), so the
        last step need not be ENGINE's best by its own criterion; the dev curve recorded here shows which it is.
        """
        name, start = self.better_cmlm()
        out = self.root / "engine_selected"
        every = self.budget["logging_steps"]
        seconds, logged = self.train_energy(
            out, start, self.budget["energy_steps"], corpus=self.corpus_of(name), eval_strategy="steps", eval_steps=every,
            save_steps=every, load_best_model_at_end=True, save_total_limit=2, prediction_loss_only=True,
            eval_on_start=True, model_selection="energy")
        curve = dev_curve(logged)
        best = min(curve, key=lambda row: row["dev_discrete_energy"])
        # Step 0 (the starting CMLM, scored by eval_on_start) has no checkpoint and never competes in the Trainer's
        # own selection (which left the best of steps >= `every` in `out`): if it wins, the CMLM itself is selected.
        selected = start if best["step"] == 0 else out
        self.write("engine_selected", {
            "initialised_from": name, "corpus": self.corpus_of(name), "train_seconds": seconds,
            "steps": self.budget["energy_steps"], "o1": ENGINE.o1, "o2": "st", "learning_rate": ENGINE.learning_rate,
            "ce_weight": ENGINE.ce_weight, "selected_step": best["step"], "dev_curve": curve, "model": str(selected),
            "train_log": training_log(logged), **self.evaluate_nat(selected, length_beam=3)})

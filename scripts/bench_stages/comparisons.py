"""ENGINE against cross-entropy at the same compute: matched pairs over seeds, curves checkpointed at the same
wall times, second controls (a constant schedule for ENGINE's wall time, a decaying one for the steps the first
control reached in it), and the teacher choosing among a NAT model's length candidates (`rescore`)."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

from .recipes import Recipes
from .records import LogHistory, SaveAtSeconds, training_log, weights_digest
from .settings import CONFIRM_TEST, RESCORING_BEAMS, EnergySetting


def first_checkpoints(runs: dict) -> dict:
    """A stage's ENGINE runs as `second_controls` reads them: matched pairs as they are; seeded curves (`curves`) as
    one run per seed at the first checkpoint, with ENGINE's wall time there and the CE steps its control took by
    then (what a matched pair of that many energy steps records)."""
    if "curves" not in runs:
        return runs
    curves = list(runs["curves"].values())
    return {"starts": {curve["initialised_from"]: curve["start"] for curve in curves},
            "points": [{"start": curve["initialised_from"], "seed": curve["seed"],
                        "control_steps": curve["control_steps_at"][0],
                        "train_seconds": float(next(iter(curve["engine_seconds_at"].values())))} for curve in curves]}


class Comparisons(Recipes):
    """ENGINE runs set against cross-entropy controls given the same compute, and the teacher's rescoring."""

    def matched_pair(self, out: Path, start_dir: Path, corpus: str, seed: int, setting: EnergySetting) -> dict:
        """One ENGINE run of `setting` from `start_dir` and its control (same seed, CE at lr 1e-4 for ENGINE's wall
        time), both saved under `out` and scored on the test set (`scored_pair`)."""
        from engine_hf.training import StopAfterSeconds

        seconds, logged = self.train_energy(out / "engine", start_dir, self.budget["energy_steps"], corpus=corpus,
                                            save_strategy="no", seed=seed, learning_rate=setting.learning_rate,
                                            ce_weight=setting.ce_weight, o1=setting.o1,
                                            o1_temperature=setting.o1_temperature)
        clock = LogHistory()
        self.train_cmlm(out / "control", corpus, 10**6, student_model=str(start_dir),
                        callbacks=[StopAfterSeconds(seconds), clock], learning_rate=1e-4, warmup_steps=0,
                        lr_scheduler_type="constant", save_strategy="no", seed=seed)
        return {"train_seconds": seconds, "control_train_seconds": clock.seconds, "control_steps": clock.steps,
                **self.scored_pair(out), "engine_train_log": training_log(logged)}

    def scored_pair(self, out: Path) -> dict:
        """ENGINE's and the control's test scores at 1 iteration, and BLEU / chrF at 10 (`<system>_bleu_10`)."""
        scores = {system: self.evaluate(out / system, **CONFIRM_TEST)["libreoffice"] for system in ("engine", "control")}
        refined = {system: self.evaluate(out / system, **{**CONFIRM_TEST, "num_iterations": 10})["libreoffice"]
                   for system in scores}
        return {**{f"{system}_{metric}": scores[system][metric] for system in scores
                   for metric in ("bleu", "chrf", "repetition", "teacher_energy")},
                **{f"{system}_{metric}_10": refined[system][metric] for system in refined
                   for metric in ("bleu", "chrf")}}

    def second_controls(self, stage: str, against: str, learning_rate: float, lr_scheduler_type: str) -> None:
        """Another CE control (from the same start, same seed) for each run of the stage `against`, scored at 1 and 10
        iterations. A constant schedule trains for the ENGINE run's wall time; a decaying one for as many steps as
        the run's first control took in that time, since a schedule must know its end. Points are kept as they finish."""
        from engine_hf.training import StopAfterSeconds

        runs = self.read(against)
        if runs.get("partial"):
            raise SystemExit(f"{stage}: {against} is unfinished ({len(runs.get('points', runs.get('curves', [])))} "
                             f"run(s) so far), and each of its runs needs its control here. Finish it first: python "
                             f"scripts/bench.py {self.flags}--stages {against}")
        runs = first_checkpoints(runs)
        done = {p["seed"]: p for p in self.read(stage)["points"]} if self.result_path(stage).exists() else {}
        about = {"learning_rate": learning_rate, "lr_scheduler_type": lr_scheduler_type, "against": against,
                 "starts": runs["starts"]}
        for point in runs["points"]:
            if point["seed"] in done:
                continue
            out = self.root / stage / f"{point['start']}-seed{point['seed']}"
            clock = LogHistory()
            constant = lr_scheduler_type == "constant"
            self.train_cmlm(out / "control", self.corpus_of(point["start"]),
                            10**6 if constant else point["control_steps"],
                            student_model=str(self.trained(point["start"])),
                            callbacks=[StopAfterSeconds(point["train_seconds"]), clock] if constant else [clock],
                            learning_rate=learning_rate, warmup_steps=0, lr_scheduler_type=lr_scheduler_type,
                            save_strategy="no", seed=point["seed"])
            scores = {n: self.evaluate(out / "control", **{**CONFIRM_TEST, "num_iterations": n})["libreoffice"]
                      for n in (1, 10)}
            done[point["seed"]] = {"start": point["start"], "seed": point["seed"], "train_seconds": clock.seconds,
                                   "control_steps": clock.steps,
                                   **{f"control_{m}": scores[1][m] for m in ("bleu", "chrf", "repetition", "teacher_energy")},
                                   **{f"control_{m}_10": scores[10][m] for m in ("bleu", "chrf")}}
            self.write(stage, {**about, "points": list(done.values()), "partial": True})
        self.write(stage, {**about, "points": list(done.values()), "partial": False})

    def check_start(self, stage: str, name: str, start_dir: Path, recorded: dict) -> None:
        """Stop before adding seeds to `stage` from a start whose weights are not those its finished seeds started
        from (a model rebuilt differently): one table would mix two starts."""
        digest = recorded.get("model_sha256")
        if digest and digest != weights_digest(start_dir):
            raise SystemExit(f"{stage}: {start_dir} (digest {weights_digest(start_dir)}) is not the {name} its finished "
                             f"seeds started from ({digest}). Rebuild it: python scripts/bench.py {self.flags}--rebuild "
                             f"{name}, or rerun the stage with --force.")

    def check_setting(self, stage: str, setting: EnergySetting) -> None:
        """Stop before adding runs of `setting` to a `stage` result that holds another setting's (or another budget's):
        one table never mixes two. Nothing is read or written beyond the result itself."""
        if not self.result_path(stage).exists():
            return
        previous = self.read(stage)
        wanted = {"setting": setting.key, "learning_rate": setting.learning_rate, "ce_weight": setting.ce_weight,
                  "energy_steps": self.budget["energy_steps"]}
        if any(previous.get(key) != value for key, value in wanted.items()):
            raise SystemExit(f"{self.result_path(stage)} holds runs of another setting than {setting.key} at "
                             f"{wanted['energy_steps']} steps; move it away first, so that one table never mixes two.")

    def matched_seeds(self, stage: str, setting: EnergySetting, starts: dict[str, Path], selected_on: str,
                      seeds: tuple[int, ...] | None = None, extra: dict | None = None) -> None:
        """`setting` from each start and seed (`seeds`, else `confirm_seeds`), each run with its own control (`matched_pair`),
        under runs/<benchmark>/<stage>/; points are kept as they finish and never run twice. `selected_on` says
        what chose the setting, for the table. Stops before adding runs of one setting to a result that holds
        another's (`check_setting`)."""
        self.check_setting(stage, setting)
        previous = self.read(stage) if self.result_path(stage).exists() else {}
        if "start" in previous:  # the one-start layout
            previous["starts"] = {previous["initialised_from"]: previous.pop("start")}
        points = {(p.get("start", previous.get("initialised_from")), p["seed"]): {"start": previous.get(
            "initialised_from"), **p} for p in previous.get("points", [])}
        starts_scores = previous.get("starts", {})
        about = {"setting": setting.key, "learning_rate": setting.learning_rate, "ce_weight": setting.ce_weight,
                 "o1": setting.o1, "o1_temperature": setting.o1_temperature, "energy_steps": self.budget["energy_steps"],
                 "selected_on": selected_on, "corpora": {name: self.corpus_of(name) for name in starts}, **(extra or {})}
        for name, start_dir in starts.items():
            if name not in starts_scores:
                starts_scores[name] = {**self.evaluate(start_dir, **CONFIRM_TEST)["libreoffice"],
                                       "model_sha256": weights_digest(start_dir)}
            self.check_start(stage, name, start_dir, starts_scores[name])
        # seed by seed, every start in each: a stage stopped half-way has its starts equally covered
        for seed, (name, start_dir) in itertools.product(seeds or self.budget["confirm_seeds"], starts.items()):
            if (name, seed) not in points:
                points[(name, seed)] = {"start": name, "seed": seed, **self.matched_pair(
                    self.root / stage / f"{name}-seed{seed}", start_dir, about["corpora"][name], seed, setting)}
                self.write(stage, {**about, "starts": starts_scores, "points": list(points.values()), "partial": True})
        self.write(stage, {**about, "starts": starts_scores, "points": list(points.values()), "partial": False})

    def seeded_curves(self, stage: str, name: str, start: Path, setting: EnergySetting, seeds: tuple[int, ...],
                      control_learning_rate: float, checkpoints: int) -> None:
        """`compute_curve` once per seed, each a curve `seed<N>` of `stage`; the stage is finished once all are. Stops
        before adding a seed from a start other than the one the curves so far started from (`check_start`)."""
        for curve in (self.read(stage).get("curves", {}) if self.result_path(stage).exists() else {}).values():
            self.check_start(stage, name, start, {"model_sha256": curve.get("start_sha256")})
        for seed in seeds:
            self.compute_curve(stage, name, start, setting, seed=seed, control_learning_rate=control_learning_rate,
                               checkpoints=checkpoints, curve=f"seed{seed}")
        self.write(stage, {**self.payload(stage), "partial": False})

    def payload(self, stage: str) -> dict:
        """`stage`'s result without the header `write` adds afresh (what a stage of several curves keeps beside its
        curves, such as how its start was trained)."""
        header = self.header(stage)
        return {key: value for key, value in self.read(stage).items() if key not in header}

    def as_curves(self, stage: str, curve: str) -> None:
        """A one-curve `compute_curve` result of `stage` (and its runs) moved under the name `curve`, so that the
        stage can hold more curves; nothing is retrained or rescored. No result, or one already in curves: nothing."""
        if not self.result_path(stage).exists() or "curves" in (old := self.read(stage)):
            return
        header = self.header(stage)
        for side in ("engine", "control"):
            if (self.root / stage / side).exists():
                (self.root / stage / curve).mkdir(parents=True, exist_ok=True)
                (self.root / stage / side).rename(self.root / stage / curve / side)
        self.write(stage, {"curves": {curve: {k: v for k, v in old.items() if k not in header}}, "partial": True})
        print(f"[bench] {stage}: its one curve is now curves.{curve} (runs under {self.root / stage / curve})")

    def compute_curve(self, stage: str, name: str, start: Path, setting: EnergySetting,
                      seed: int | None = None, control_learning_rate: float = 1e-4, checkpoints: int = 4,
                      curve: str | None = None) -> None:
        """`setting` from `start` for `checkpoints` x `energy_steps`, checkpointed every `energy_steps`; one control run
        (CE at a constant `control_learning_rate` from the same start) checkpointed at the wall times ENGINE reached
        its checkpoints and stopped at ENGINE's total. Each pair is scored on the test set (1 and 10 iterations, length
        beam 3) and on dev (1 iteration). A stage of several curves names each (`curve`): its record is kept under
        `curves[curve]` of the stage's JSON and its runs under runs/<benchmark>/<stage>/<curve>/; the stage marks
        itself finished once every curve is.

        Resumable: a finished run's times are kept in the results JSON; a run killed midway is redone from its start
        (its clock would be wrong)."""
        from engine_hf.training import StopAfterSeconds

        def load() -> dict:
            whole = self.read(stage) if self.result_path(stage).exists() else {}
            return whole.get("curves", {}).get(curve, {}) if curve else whole

        def save(record: dict) -> None:
            if curve:
                kept = self.payload(stage) if self.result_path(stage).exists() else {}
                record = {**kept, "curves": {**kept.get("curves", {}), curve: record}, "partial": True}
            self.write(stage, record)

        every, total = self.budget["energy_steps"], checkpoints * self.budget["energy_steps"]
        out, corpus = self.root / stage / (curve or ""), self.corpus_of(name)
        seeded = {} if seed is None else {"seed": seed}
        about = {"initialised_from": name, "corpus": corpus, "energy_steps": total, "checkpoint_every": every,
                 "setting": setting.key, "o1": setting.o1, "o1_temperature": setting.o1_temperature, "o2": "st",
                 "learning_rate": setting.learning_rate, "ce_weight": setting.ce_weight,
                 "control_learning_rate": control_learning_rate, "start_sha256": weights_digest(start), **seeded,
                 **({} if setting.energy_length == "oracle" else {"energy_length": setting.energy_length})}
        record = load()
        if "engine_seconds_at" not in record:
            shutil.rmtree(out / "engine", ignore_errors=True)
            clock = LogHistory()
            # Deleted and trained again if interrupted: its checkpoints are not a place to resume the clock from.
            _, logged = self.train_energy(out / "engine", start, total, corpus=corpus, clock=clock, save_steps=every,
                                          clock_on_save=False,
                                          learning_rate=setting.learning_rate, ce_weight=setting.ce_weight,
                                          o1=setting.o1, o1_temperature=setting.o1_temperature,
                                          energy_length=setting.energy_length, **seeded)
            record = {**about, "engine_seconds_at": {step: clock.elapsed[step] for step in range(every, total + 1, every)},
                      "engine_train_log": training_log(logged)}
            save({**record, "partial": True})
        times = [float(t) for t in record["engine_seconds_at"].values()]
        if "control_steps_at" not in record:
            shutil.rmtree(out / "control", ignore_errors=True)
            clock, saver = LogHistory(), SaveAtSeconds(times[:-1])
            self.train_cmlm(out / "control", corpus, 10**6, student_model=str(start),
                            callbacks=[saver, StopAfterSeconds(times[-1]), clock], clock_on_save=False,
                            learning_rate=control_learning_rate,
                            warmup_steps=0, lr_scheduler_type="constant", save_strategy="no", **seeded)
            record["control_steps_at"] = [*saver.saved_steps, clock.steps]
            record["control_seconds"] = clock.seconds
            save({**record, "partial": True})
        metrics = ("bleu", "chrf", "repetition", "teacher_energy")

        tests = {"": CONFIRM_TEST, "_10": {**CONFIRM_TEST, "num_iterations": 10},
                 "_dev": {**CONFIRM_TEST, "split": "validation"}}  # dev: to choose a checkpoint without the test set

        def scored(path: Path, prefix: str, known: dict) -> dict:
            """`known` plus the model's test scores at 1 and 10 iterations and dev scores at 1 (keys `{prefix}bleu`,
            `{prefix}bleu_10`, `{prefix}bleu_dev`, ...), those a finished run recorded kept (`--force` adds the
            ones an older result lacks)."""
            for suffix, test in tests.items():
                if f"{prefix}bleu{suffix}" not in known:
                    found = self.evaluate(path, **test)["libreoffice"]
                    known = {**known, **{f"{prefix}{m}{suffix}": found[m] for m in metrics}}
            return known

        recorded = {point["engine_step"]: point for point in record.get("points", [])}
        start_scores = scored(start, "", record.get("start", {}))
        points = []
        for i, (step, seconds) in enumerate(zip(record["engine_seconds_at"], times, strict=True)):
            last = i == len(times) - 1
            control_step = record["control_steps_at"][i]
            engine_dir = out / "engine" if last else out / "engine" / f"checkpoint-{step}"
            control_dir = out / "control" if last else out / "control" / f"checkpoint-{control_step}"
            point = recorded.get(int(step), {"engine_step": int(step), "seconds": seconds, "control_step": control_step})
            points.append(scored(control_dir, "control_", scored(engine_dir, "engine_", point)))
            save({**record, "start": start_scores, "points": points, "partial": True})
        save({**record, "start": start_scores, "points": points, "partial": False})

    def rescore(self, stage: str, candidates: dict[str, Path]) -> None:
        """Each candidate model's test scores at 1 and 10 iterations and every `RESCORING_BEAMS`, its length
        candidates chosen by itself and by the teacher; resumable per score (see `stage_rescoring`)."""
        systems = {system: path for system, path in candidates.items() if (path / "config.json").exists()}
        rows = self.finished_rows(stage)
        for system, path in systems.items():
            digest = weights_digest(path)
            grid = rows[system]["scores"] if system in rows and rows[system].get("model_sha256") == digest else {}
            for n, beam, who in itertools.product((1, 10), RESCORING_BEAMS, ("student", "teacher")):
                key = f"{n} it, length beam {beam}, {who}"
                if key in grid or (beam == 1 and who == "teacher"):  # one candidate: nothing to choose
                    continue
                rescoring = {"rescoring_model": str(self.teacher_dir)} if who == "teacher" else {}
                grid[key] = self.evaluate(path, num_iterations=n, length_beam=beam, **rescoring)["libreoffice"]
            rows[system] = {"model": str(path), "model_sha256": digest, "scores": grid}
            self.write(stage, {"split": "test", "corpus": "libreoffice", "rows": rows, "partial": True})
        self.write(stage, {"split": "test", "corpus": "libreoffice", "rows": rows, "partial": False})

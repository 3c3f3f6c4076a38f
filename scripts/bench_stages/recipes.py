"""How the starts and corpora later stages share are built, found and rebuilt: distillation, the CMLM chain
(cmlm_kd, cmlm_long, cmlm_*_still) and `--rebuild`."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .base import BenchBase
from .records import corpus_digest, weights_digest
from .settings import START_CHOICE_DECODING

AVX2_HINT = ("If this CPU has other vector units than the one in the results' `hardware` (AVX-512 against AVX2), "
             "force the recorded ones (ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2) "
             "and rebuild into another --runs-dir; else rerun its stage with --force.")


class Recipes(BenchBase):
    """The shared starts and corpora: built once by the stage that owns them, rebuilt by `--rebuild`."""

    def trained(self, stage: str, built_by: str | None = None) -> Path:
        """The model folder of a finished stage (or of a model that stage `built_by` trains); a clear stop if its
        results exist but the model is gone (runs/ is not kept between machines), naming the command that rebuilds
        it."""
        path = self.root / stage
        stage = built_by or stage
        if not (path / "config.json").exists():
            quick = " --quick" if self.quick else ""
            how = (f"python scripts/bench.py {self.flags}--rebuild {path.name}{quick} (it trains the model again by "
                   f"its recipe and checks its weights against the digest {stage} recorded)"
                   if path.name in self.rebuildable() else
                   f"python scripts/bench.py {self.flags}--stages {stage} --force{quick} (later stages that start "
                   "from it need --force too)")
            raise SystemExit(f"{self.result_path(stage)} exists but its model {path} does not (runs/ is not kept "
                             f"between machines). Rebuild it: {how}.")
        return path

    def rebuildable(self) -> dict[str, tuple[str, Callable[[Path], object]]]:
        """The models later stages start from that `--rebuild` can train again without redoing (or rewriting) the
        stage that built them: each with that stage, whose results record its weights' digest, and its recipe."""
        def still(train: Callable[[Path], object]) -> Callable[[Path], object]:
            def run(out: Path) -> object:
                with self.still_encoder():
                    return train(out)
            return run

        cmlm = lambda out: self.train_cmlm(out, self.corpus_of("cmlm_kd"), self.budget["cmlm_steps"])  # noqa: E731
        # labels built both still starts in one stage (`still_encoder`), A in two (`still_main`, `still_long`)
        kd_by, long_by = ("still_encoder",) * 2 if "still_encoder" in self.benchmark.stages else ("still_main", "still_long")
        return {"cmlm_kd": ("cmlm_kd", cmlm),
                "cmlm_ref": ("cmlm_ref", lambda out: self.train_cmlm(out, "libreoffice", self.budget["cmlm_steps"])),
                "cmlm_long": ("cmlm_long", lambda out: self.train_long(out, self.trained("cmlm_kd"))),
                "cmlm_kd_still": (kd_by, still(cmlm)),
                "cmlm_long_still": (long_by, still(lambda out: self.train_long(
                    out, self.trained("cmlm_kd_still", built_by=kd_by)))),
                "cmlm_more_still": ("still_more", still(lambda out: self.continue_training(
                    out, self.trained("cmlm_long_still", built_by="still_long"), self.budget["long_steps"]))),
                "cmlm_most_still": ("still_most", still(lambda out: self.continue_training(
                    out, self.trained("cmlm_more_still", built_by="still_more"), self.budget["long_steps"]))),
                "cmlm_max_still": ("still_max", still(lambda out: self.continue_training(
                    out, self.trained("cmlm_most_still", built_by="still_most"), self.budget["long_steps"]))),
                "cmlm_peak_still": ("still_peak", still(lambda out: self.continue_training(
                    out, self.trained("cmlm_max_still", built_by="still_max"), self.budget["long_steps"])))}

    def corpus_of(self, cmlm: str) -> str:
        """The training corpus of a CMLM stage: ENGINE and the control keep to it (references or distilled)."""
        if cmlm == "cmlm_ref":
            return "libreoffice"
        return str(self.root / {"cmlm_more": "distilled-more", "cmlm_wide": "distilled-wide",
                                "cmlm_more_still": "distilled-all", "cmlm_most_still": "distilled-all",
                                "cmlm_max_still": "distilled-all", "cmlm_peak_still": "distilled-all"}.get(cmlm, "distilled"))

    def rebuild(self, name: str) -> None:
        """Train `name` again by its recipe (`rebuildable`; "distilled" and "distilled-all" are the distill and distill_all
        stages' corpora) into its folder and check its weights against the digest its stage recorded; results/ is not
        touched. A model that is there is kept. A digest that differs stops with an error: stages that start from a
        different model would mix starts in one table."""
        out = self.root / name
        corpora = {"distilled": ("distill", self.distill), "distilled-all": ("distill_all", self.distill_all)}
        if name in corpora:
            self.rebuild_corpus(out, *corpora[name])
            return
        if name not in self.rebuildable():
            raise SystemExit(f"--rebuild: no recipe for {name!r}; choose from {', '.join(corpora)}, "
                             f"{', '.join(self.rebuildable())}")
        stage, train = self.rebuildable()[name]
        recorded = (self.finished_rows(stage).get(name) or (self.read(stage) if self.done(stage) else {})).get("model_sha256")
        if recorded is None:
            raise SystemExit(f"--rebuild {name}: {self.result_path(stage)} records no finished {name}; run its stage: "
                             f"python scripts/bench.py {self.flags}--stages {stage}")
        if (out / "config.json").exists() and weights_digest(out) != recorded:
            raise SystemExit(f"--rebuild {name}: {out} holds other weights (digest {weights_digest(out)}, recorded "
                             f"{recorded}); move it away to rebuild, nothing was changed")
        if not (out / "config.json").exists():
            train(out)
        if weights_digest(out) != recorded:
            raise SystemExit(f"--rebuild {name}: the weights trained in {out} (digest {weights_digest(out)}) differ "
                             f"from the ones {self.result_path(stage)} recorded ({recorded}); the model is kept, but "
                             f"stages that start from it would not start where their results did. {AVX2_HINT}")
        print(f"[bench] {name}: rebuilt in {out}, digest {recorded} as recorded")

    def rebuild_corpus(self, out: Path, stage: str, make: Callable[[], object]) -> None:
        """Distil again (`make`: distillation resumes, a whole corpus is left as it is) and check the training file
        against the digest `stage` recorded, where it recorded one (the distill stage's results before 2026-12-04
        did not)."""
        make()
        recorded = self.read(stage).get("train_sha256") if self.done(stage) else None
        digest = corpus_digest(out)
        if recorded is None:
            print(f"[bench] {out.name}: {out}, train.jsonl digest {digest}; {self.result_path(stage)} records "
                  "none to check it against")
        elif digest != recorded:
            raise SystemExit(f"--rebuild {out.name}: {out}/train.jsonl (digest {digest}) differs from the corpus "
                             f"{self.result_path(stage)} recorded ({recorded}); it is kept. {AVX2_HINT}")
        else:
            print(f"[bench] {out.name}: rebuilt in {out}, digest {recorded} as recorded")

    def distill(self) -> float:
        """The teacher's translations of the first `distill_sources` training sources into runs/.../distilled;
        returns the seconds."""
        from transformers import AutoTokenizer

        from engine_hf import load_teacher
        from engine_hf.training import distill_corpus, load_corpus_splits

        data = self.data(train=self.budget["distill_sources"])
        data.max_eval_samples = None
        started = time.perf_counter()
        self.clock.mark_unrecorded_work()
        distill_corpus(load_teacher(str(self.teacher_dir)), AutoTokenizer.from_pretrained(self.teacher_dir),
                       load_corpus_splits(data), self.benchmark.src, self.benchmark.tgt, self.root / "distilled",
                       batch_size=64,
                       num_beams=self.budget["distill_beams"])
        return time.perf_counter() - started

    def dev_bleu_of_cmlms(self) -> dict[str, float]:
        """Dev BLEU of each CMLM trained so far (`cmlm_ref`, `cmlm_kd`): the dev set, never the test set, chooses."""
        trained = [name for name in ("cmlm_ref", "cmlm_kd") if self.done(name)]
        if not trained:
            raise SystemExit("no CMLM to start ENGINE from: run the cmlm_kd stage (and cmlm_ref, for the choice "
                             f"between them) first: python scripts/bench.py {self.flags}--stages cmlm_kd,cmlm_ref")
        return {name: self.evaluate(self.trained(name), **START_CHOICE_DECODING)["libreoffice"]["bleu"]
                for name in trained}

    def chosen_cmlm(self) -> tuple[str, Path]:
        """The better CMLM by dev BLEU: `start_choice`'s pick while it still describes the CMLMs trained (the same
        ones, the same weights by their recorded digests), else chosen again now."""
        if self.done("start_choice"):
            choice = self.read("start_choice")
            current = {name: self.read(name).get("model_sha256") for name in ("cmlm_ref", "cmlm_kd") if self.done(name)}
            if choice.get("digests") == current:
                return choice["better"], self.trained(choice["better"])
            print(f"[bench] {self.result_path('start_choice')} chose among other CMLMs than those trained now: "
                  "choosing again")
        bleu = self.dev_bleu_of_cmlms()
        print(f"[bench] dev BLEU of the CMLMs: {bleu}")
        name = max(bleu, key=bleu.get)
        return name, self.trained(name)

    def better_cmlm(self) -> tuple[str, Path]:
        """The CMLM that ENGINE started from, for the stages that follow it (its control, Table 2, the sweep...): the
        one the engine stage recorded, else the better one on dev (`chosen_cmlm`)."""
        if self.done("engine"):
            name = self.read("engine")["initialised_from"]
            return name, self.trained(name)
        return self.chosen_cmlm()

    def train_long(self, out: Path, start: Path) -> float:
        """`cmlm_long`'s recipe from `start`: `long_steps` more CE steps (lr 3e-4, decaying); returns the seconds."""
        return self.train_cmlm(out, self.corpus_of("cmlm_kd"), self.budget["long_steps"], student_model=str(start),
                               learning_rate=3e-4, warmup_steps=min(100, self.budget["long_steps"] // 10),
                               save_steps=self.budget["long_checkpoint_every"])

    def distill_sources(self, out: Path, pairs: list) -> Path:
        """The teacher's greedy (or `distill_beams`) outputs for extra training sources, in `out`; its dev and test
        splits are the benchmark's own references, as `distill_corpus` keeps them."""
        from datasets import Dataset, DatasetDict
        from transformers import AutoTokenizer

        from engine_hf import load_teacher
        from engine_hf.training import distill_corpus, load_corpus_splits

        src, tgt = self.benchmark.src, self.benchmark.tgt
        data = self.data()
        data.max_eval_samples = None
        splits = load_corpus_splits(data)
        rows = [pair if isinstance(pair, dict) else {src: pair.src, tgt: pair.tgt} for pair in pairs]
        corpus = DatasetDict(train=Dataset.from_dict({"translation": rows}), validation=splits["validation"],
                             test=splits["test"])
        self.clock.mark_unrecorded_work()
        return distill_corpus(load_teacher(str(self.teacher_dir)), AutoTokenizer.from_pretrained(self.teacher_dir),
                              corpus, src, tgt, out, batch_size=64, num_beams=self.budget["distill_beams"])

    def join_corpora(self, out: Path, *parts: Path) -> list[int]:
        """`out`/train.jsonl = the parts' training sets one after another, dev and test copied from the first;
        returns each part's number of training pairs."""
        out.mkdir(exist_ok=True)
        texts = [(part / "train.jsonl").read_text(encoding="utf-8") for part in parts]
        (out / "train.jsonl").write_text("".join(texts), encoding="utf-8")
        for split in ("validation", "test"):
            shutil.copy2(parts[0] / f"{split}.jsonl", out / f"{split}.jsonl")
        return [text.count("\n") for text in texts]

    def train_further(self, stage: str, start: str, model: str | None = None, steps: int | None = None,
                      start_built_by: str | None = None, length_beams: tuple[int, ...] = (5,)) -> None:
        """`start` + `steps` (default `more_steps`) CE steps on `corpus_of(model)` (lr 3e-4 after a short warm-up,
        decaying linearly), saved as runs/<benchmark>/<model> (default: the stage's name) and scored at 1 and 10
        iterations (length beam 5; with more `length_beams`, a block for each)."""
        model = model or stage
        out, start_dir = self.root / model, self.trained(start, built_by=start_built_by)
        seconds = self.continue_training(out, start_dir, steps or self.budget["more_steps"])
        scores = (self.evaluate_nat(out, length_beam=5) if length_beams == (5,) else
                  {f"length beam {beam}": self.evaluate_nat(out, length_beam=beam) for beam in length_beams})
        self.write(stage, {"initialised_from": start, "initialised_from_sha256": weights_digest(start_dir),
                           "corpus": self.corpus_of(model), "train_seconds": seconds, "steps": steps or self.budget["more_steps"],
                           "learning_rate": 3e-4, "model": str(out), "model_sha256": weights_digest(out), **scores})

    def continue_training(self, out: Path, start: Path, steps: int) -> float:
        """The recipe of `train_further` (and `--rebuild cmlm_more_still`): `steps` CE steps from `start` on
        `corpus_of(out.name)`, lr 3e-4 after a short warm-up, decaying; resumes from its mid-way checkpoint."""
        return self.train_cmlm(out, self.corpus_of(out.name), steps, student_model=str(start), learning_rate=3e-4,
                               warmup_steps=min(100, steps // 10), save_steps=steps // 2)

    @contextmanager
    def still_encoder(self) -> Iterator[None]:
        """Train with the frozen encoder in eval mode (no dropout in it) inside this block."""
        self.encoder_dropout = False
        try:
            yield
        finally:
            self.encoder_dropout = True

    def distill_all(self) -> dict:
        """`stage_distill_all`'s corpus (and `--rebuild distilled-all`'s): its sizes and seconds."""
        from engine_hf.data import load_corpus

        train = load_corpus("libreoffice", self.benchmark.src, self.benchmark.tgt)["train"]
        rest = train.select(range(min(self.budget["distill_sources"], len(train)), len(train)))
        if self.budget["ui_sources"] is not None:
            rest = rest.select(range(min(self.budget["ui_sources"], len(rest))))
        started = time.perf_counter()
        part = self.distill_sources(self.root / "distilled-rest", rest["translation"])
        seconds = time.perf_counter() - started
        base, new = self.join_corpora(self.root / "distilled-all", self.root / "distilled", part)
        return {"base_sources": base, "sources": new, "help_train_pairs": len(train),
                "num_beams": self.budget["distill_beams"], "seconds": seconds}

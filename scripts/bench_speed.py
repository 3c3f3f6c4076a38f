"""Decoding speed, side by side in one process: teacher greedy / beam 4 against the CMLM's parallel decoding.

    python scripts/bench_speed.py --student runs/demo/engine --teacher runs/demo/teacher-en-pt

Same held-out test sentences (LibreOffice help unless `--corpus` says otherwise), same threads, batch 1 and batch
64. Each repeat times every system once, in turn (`side_by_side_latency`), so the ratio to teacher greedy is taken
within each repeat: the tables give its median and its lowest and highest repeat (the JSON every repeat's). Mean output lengths beside them, and the
batch-1 parts (encoders, output layer). The one-pass NAT rows are timed again with a plain nn.Linear output layer in
the same repeats: what the vocabulary-major projection of `generate()` buys (or costs). Times on the CPU unless
`--device cuda`; writes results/speed.json (absolute times only mean something on the machine named there; a GPU
run goes to results/speed_gpu.json, the one file the tables read as GPU times).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path

import torch

from engine_hf.benchmark import TimedSystem, hardware_description

SHORTLIST_SYSTEMS = ("teacher greedy", "NAT 1 iteration, length beam 1", "NAT 1 iteration, length beam 3")
# Timed again right after themselves with the output layer as plain nn.Linear (`linear_output_layer`).
LINEAR_CONTROL_SYSTEMS = ("NAT 1 iteration, length beam 1", "NAT 1 iteration, length beam 3")


def shortlist_at_batch1(systems: dict[str, TimedSystem], tokenizer, sources: list[str], repeats: int) -> dict:
    """Batch 1 again with both output layers restricted to one shortlist: the ids these systems emit on these
    sentences (plus the specials), a stand-in for the per-sentence lexical shortlist of Marian's `lex.s2t`.

    Why: the output layer is most of a teacher step's cost at batch 1, so a shortlist speeds up both models; this
    measures what it does to the ratio. The outputs stay the same wherever the full layer's choice is in the
    shortlist (always for greedy search; the length beam compares log-probabilities normalised over the shortlist,
    so it may pick another length): the share of unchanged outputs is recorded.
    """
    from engine_hf.benchmark import shortlisted, side_by_side_latency

    def outputs(system: TimedSystem) -> list[torch.Tensor]:
        with torch.no_grad():
            return [system.model.generate(**tokenizer([s], return_tensors="pt").to(system.model.device),
                                          **system.generate_kwargs)[0].cpu() for s in sources]

    full = {name: outputs(system) for name, system in systems.items()}
    keep = torch.cat([ids for rows in full.values() for ids in rows] + [torch.tensor(tokenizer.all_special_ids)]).unique()
    restricted = {name: system._replace(context=partial(shortlisted, system.model, keep))
                  for name, system in systems.items()}
    rows = side_by_side_latency(restricted, tokenizer, sources, 1, repeats, baseline="teacher greedy")
    for name, system in systems.items():
        with shortlisted(system.model, keep):
            same = sum(torch.equal(a, b) for a, b in zip(outputs(system), full[name], strict=True))
        rows[name]["unchanged_outputs"] = same / len(sources)
        print(f"batch  1 shortlist ({len(keep)} ids) {name:<50} {1000 * rows[name]['seconds_per_sentence']:8.1f} ms/sentence")
    return {"shortlist_ids": len(keep), "vocabulary": len(tokenizer), "results": rows}


def require_model(path: str) -> None:
    """Stop with the way out when a model under runs/ is missing: runs/ is not kept in git, so a fresh clone has the
    benchmarks' results but not the models they trained."""
    if not path.startswith("runs/") or Path(path).is_dir():
        return
    how = ("`make bench RERUN=name` trains and scores `make bench`'s stages again from nothing into runs/name/ and "
           "results/name/, beside the record" if path.startswith("runs/bench/") else
           "the command that trained it (`make demo`, or the stage named in docs/RESULTS.md) trains it again")
    raise SystemExit(f"{path}: no model there. runs/ is not kept in git, so a fresh clone has the results but not "
                     f"the models: {how}.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--student", default="runs/demo/engine")
    parser.add_argument("--teacher", default="runs/demo/teacher-en-pt")
    parser.add_argument("--sentences", type=int, default=64)
    parser.add_argument("--batch1-sentences", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--corpus", default="libreoffice",
                        help="where the test sentences come from (a corpus name or a saved dataset folder)")
    parser.add_argument("--src-lang", default="en", help="source language of the test sentences (benchmark B: de)")
    parser.add_argument("--tgt-lang", default="pt", help="target language (benchmark B: en)")
    parser.add_argument("--device", default="cpu",
                        help="where both models run: cpu (the issue's batch-1 target is on CPU; the default, so a GPU "
                        "host cannot put GPU times in a CPU table) or cuda (the GPU table: --output "
                        "results/speed_gpu.json); --threads is the CPU's")
    parser.add_argument("--output", help="default: results/speed.json on the CPU, results/speed_gpu.json with "
                        "--device cuda (the file the GPU table reads)")
    args = parser.parse_args()
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: torch finds no CUDA GPU here; leave --device out to time on the CPU")
    args.output = args.output or ("results/speed_gpu.json" if torch.device(args.device).type == "cuda"
                                  else "results/speed.json")
    started = time.monotonic()
    for model in (args.student, args.teacher):
        require_model(model)
    torch.set_num_threads(args.threads)

    from engine_hf.benchmark import batch1_components, linear_output_layer, side_by_side_latency
    from engine_hf.inference import load_model
    from engine_hf.training import DataArguments, load_corpus_splits

    data = DataArguments(corpus=args.corpus, src_lang=args.src_lang, tgt_lang=args.tgt_lang, max_eval_samples=None)
    sources = [p[args.src_lang] for p in load_corpus_splits(data)["test"]["translation"]]
    sources = sources[: args.sentences]
    teacher, tokenizer = load_model(args.teacher)
    student, _ = load_model(args.student)
    teacher, student = teacher.to(args.device), student.to(args.device)
    systems = {
        "teacher greedy": TimedSystem(teacher, {"num_beams": 1}),
        "teacher beam 4": TimedSystem(teacher, {"num_beams": 4}),
        "NAT 1 iteration, length beam 1": TimedSystem(student, {"num_iterations": 1, "length_beam": 1}),
        "NAT 1 iteration, length beam 3": TimedSystem(student, {"num_iterations": 1, "length_beam": 3}),
        "NAT 10 iterations, length beam 3": TimedSystem(student, {"num_iterations": 10, "length_beam": 3}),
        # The candidates chosen by the teacher's energy: one teacher-forced pass more, still no left-to-right steps.
        "NAT 1 iteration, length beam 3, teacher rescoring": TimedSystem(
            student, {"num_iterations": 1, "length_beam": 3, "rescoring_model": teacher}),
        # Five candidates: where the teacher's choice scored best (`rescoring_targets` in scripts/bench.py).
        "NAT 1 iteration, length beam 5": TimedSystem(student, {"num_iterations": 1, "length_beam": 5}),
        "NAT 1 iteration, length beam 5, teacher rescoring": TimedSystem(
            student, {"num_iterations": 1, "length_beam": 5, "rescoring_model": teacher}),
    }
    for name in LINEAR_CONTROL_SYSTEMS:
        systems[f"{name}, nn.Linear output layer"] = systems[name]._replace(context=linear_output_layer)
    results: dict[str, dict] = {}
    for batch_size, count in ((1, args.batch1_sentences), (64, len(sources))):
        rows = side_by_side_latency(systems, tokenizer, sources[:count], batch_size, args.repeats,
                                    baseline="teacher greedy")
        for name, row in rows.items():
            print(f"batch {batch_size:>2} {name:<50} {1000 * row['seconds_per_sentence']:8.1f} ms/sentence "
                  f"{row['speedup_vs_teacher_greedy']:5.2f}x (per repeat "
                  + " ".join(f"{r:.2f}" for r in row["speedup_vs_teacher_greedy_per_repeat"]) + ")")
        results[f"batch_{batch_size}"] = rows
    nat_tokens = results["batch_1"]["NAT 1 iteration, length beam 1"]["mean_output_tokens"]
    components = batch1_components(student, teacher, tokenizer, sources[: args.batch1_sentences], nat_tokens)
    for name, ms in components.items():
        print(f"batch  1 part {name:<48} {ms:8.1f} ms")
    shortlist = shortlist_at_batch1({name: systems[name] for name in SHORTLIST_SYSTEMS}, tokenizer,
                                    sources[: args.batch1_sentences], args.repeats)
    payload = {"command": "python scripts/bench_speed.py " + " ".join(sys.argv[1:]), "threads": args.threads,
               "hardware": hardware_description(args.device), "device": args.device,
               "student": args.student, "teacher": args.teacher, "corpus": args.corpus, "repeats": args.repeats, "results": results,
               "batch1_components_ms": components, "batch1_shortlist": shortlist,
               # What the whole measurement cost (loading and every repeat), for what `make bench` takes in all.
               "script_seconds": time.monotonic() - started}
    with open(args.output, "w") as f:
        json.dump(payload, f, indent=2)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Cost of one ENGINE energy step against one CMLM cross-entropy step: same student, same batch, same threads.

    python scripts/bench_train_step.py --teacher runs/demo/teacher-en-pt

Target-tokens/s of forward+backward+optimizer step, medians of repeats, and the process's peak RSS after each
kind of step (CPU; on a GPU the CUDA peak allocation is reported). Writes results/train_step.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time

import torch

from engine_hf.benchmark import hardware_description


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", default="runs/demo/teacher-en-pt")
    parser.add_argument("--batch-size", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", default="results/train_step.json")
    parser.add_argument("--no-profile", dest="profile", action="store_false",
                        help="skip the profiled pass that splits each step into matrix products and the rest")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    from transformers import AutoTokenizer

    from engine_hf import CMLMForConditionalGeneration, DataCollatorForCMLM, energy, load_teacher
    from engine_hf.training import DataArguments, load_corpus_splits, tokenize_pairs

    teacher = load_teacher(args.teacher)
    tokenizer = AutoTokenizer.from_pretrained(args.teacher)
    student = CMLMForConditionalGeneration.from_teacher(
        teacher, decoder_layers=3, decoder_attention_heads=4, decoder_ffn_dim=1024, length_prediction="mean_pool",
        max_source_positions=128, max_target_positions=64, dropout=0.1)
    student.freeze_encoder(dropout=True)  # the recipe its committed results were measured with
    student.train()
    train = load_corpus_splits(DataArguments(max_train_samples=4000))["train"]
    data = tokenize_pairs(train, tokenizer, "en", "pt", 128, 64)
    # A batch of median-length pairs, as a length-grouped sampler would form.
    order = sorted(range(len(data)), key=lambda i: len(data[i]["labels"]))
    middle = len(order) // 2
    features = [data[i] for i in order[middle : middle + args.batch_size]]
    ce_batch = DataCollatorForCMLM.for_model(student, generator=torch.Generator().manual_seed(0))(features)
    lengths = ce_batch["labels"].ne(-100).sum(-1)
    target_tokens = int(lengths.sum())
    optimizer = torch.optim.Adam([p for p in student.parameters() if p.requires_grad], lr=1e-6)

    def ce_step():
        student(**ce_batch).loss.backward()

    def energy_step():
        out = student(ce_batch["input_ids"], ce_batch["attention_mask"], target_lengths=lengths)
        mask = torch.arange(out.logits.shape[1]) < lengths[:, None]
        loss = energy(teacher, out.logits, mask, ce_batch["input_ids"], ce_batch["attention_mask"], "sx", "st").energy
        (loss + 0.1 * out.length_loss).backward()

    results = {}
    for name, step in (("cross_entropy", ce_step), ("energy", energy_step)):
        times = []
        for _ in range(args.repeats + 1):
            start = time.perf_counter()
            step()
            optimizer.step()
            optimizer.zero_grad()
            times.append(time.perf_counter() - start)
        median = statistics.median(times[1:])  # the first is a warm-up
        results[name] = {"seconds_per_step": median, "target_tokens_per_second": target_tokens / median,
                         "peak_rss_mb_after": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        print(f"{name:<14} {median:7.3f} s/step  {target_tokens / median:8.0f} target tokens/s")
    if args.profile:
        for name, step in (("cross_entropy", ce_step), ("energy", energy_step)):
            results[name]["profile"] = profile_step(step, optimizer)
    ratio = results["energy"]["seconds_per_step"] / results["cross_entropy"]["seconds_per_step"]
    print(f"energy step / cross-entropy step = {ratio:.2f} (goal: <= 2)")
    if args.profile:
        matmul_ratio = (results["energy"]["profile"]["matmul_seconds"]
                        / results["cross_entropy"]["profile"]["matmul_seconds"])
        print(f"matrix products alone: {matmul_ratio:.2f}x")
    payload = {"command": "python scripts/bench_train_step.py " + " ".join(sys.argv[1:]), "threads": args.threads,
               "hardware": hardware_description(), "batch_sentences": args.batch_size,
               "batch_target_tokens": target_tokens, "student": "from_teacher: 6 enc (frozen) + 3 dec layers, d 256",
               "operators": "O1=sx, O2=st", "results": results, "energy_over_cross_entropy": ratio,
               "matmul_energy_over_cross_entropy": matmul_ratio if args.profile else None}
    with open(args.output, "w") as f:
        json.dump(payload, f, indent=2)
    return 0


MATMULS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear")


def profile_step(step, optimizer) -> dict:
    """One profiled step: CPU seconds in matrix products (the vocabulary-sized ones dominate) against the total.

    Why: the energy step's matrix products are a floor that no implementation trick removes (the student's
    output layer forward/backward, O1's soft embedding forward/backward, the teacher's output layer
    forward/backward-input); the rest (softmaxes, products over batch x length x vocabulary) is what could shrink.
    """
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
        optimizer.zero_grad()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) / 1e6
    matmul = sum(e.self_cpu_time_total for e in events if e.key in MATMULS) / 1e6
    return {"matmul_seconds": matmul, "total_seconds": total, "matmul_share": matmul / total}


if __name__ == "__main__":
    sys.exit(main())

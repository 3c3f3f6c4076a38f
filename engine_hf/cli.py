"""`engine-hf`: the whole workflow from the command line.

    engine-hf prepare-data libreoffice --src en --tgt pt
    engine-hf convert-bergamot --direction en-pt teachers/en-pt
    engine-hf train-teacher --corpus libreoffice --src_lang de --tgt_lang en --output_dir teachers/de-en
    engine-hf train-cmlm --teacher_model teachers/en-pt --output_dir runs/cmlm --do_train ...
    engine-hf distill --teacher_model teachers/en-pt --output_dir corpora/distilled-en-pt
    engine-hf train-energy --teacher_model teachers/en-pt --student_model runs/cmlm --output_dir runs/engine ...
    engine-hf translate --model runs/engine < input.txt
    engine-hf evaluate --model runs/engine --corpus libreoffice --split test

Training commands parse with `HfArgumentParser`, so every `Seq2SeqTrainingArguments` flag works
(`--learning_rate`, `--max_steps`, `--bf16`, `--push_to_hub`, ...). Errors print one line and exit non-zero.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser, Seq2SeqTrainingArguments

from .training import DataArguments, StudentArguments, TeacherArguments


@dataclass
class DistillArguments:
    teacher_model: str = field(metadata={"help": "Teacher folder or hub id."})
    output_dir: str = field(metadata={"help": "Folder for the distilled corpus (train.jsonl + references)."})
    batch_size: int = field(default=32, metadata={"help": "Sentences per teacher batch."})
    num_beams: int = field(default=4, metadata={"help": "Teacher beam size (sequence-level distillation)."})


@dataclass
class TranslateArguments:
    model: str = field(metadata={"help": "A CMLM folder/hub id (parallel decoding) or any seq2seq model."})
    input: str = field(default="-", metadata={"help": "Text file, one source per line; '-' reads stdin."})
    num_iterations: int | None = field(default=None, metadata={"help": "Mask-predict iterations (CMLM)."})
    length_beam: int | None = field(default=None, metadata={"help": "Length candidates (CMLM)."})
    num_beams: int = field(default=1, metadata={"help": "Beam size for an autoregressive model."})
    batch_size: int = field(default=32, metadata={"help": "Sentences per batch."})
    rescoring_model: str | None = field(
        default=None, metadata={"help": "Teacher that picks each CMLM output among its length candidates."}
    )


@dataclass
class EvaluateArguments:
    model: str = field(metadata={"help": "Model to evaluate (CMLM or autoregressive)."})
    split: str = field(default="test", metadata={"help": "Corpus split to score."})
    teacher_model: str | None = field(default=None, metadata={"help": "Also report this teacher's energy of the outputs."})
    num_iterations: int | None = field(default=None, metadata={"help": "Mask-predict iterations (CMLM)."})
    length_beam: int | None = field(default=None, metadata={"help": "Length candidates (CMLM)."})
    num_beams: int = field(default=1, metadata={"help": "Beam size for an autoregressive model."})
    batch_size: int = field(default=32, metadata={"help": "Sentences per batch."})
    rescoring_model: str | None = field(
        default=None, metadata={"help": "Teacher that picks each CMLM output among its length candidates."}
    )
    output_file: str | None = field(default=None, metadata={"help": "Write the scores (JSON) here."})


def _parse(argv: list[str], prog: str, *types):
    parser = HfArgumentParser(types, prog=f"engine-hf {prog}")
    return parser.parse_args_into_dataclasses(args=argv)


def _require_path(path: str | None, what: str) -> None:
    """Fail early, naming the flag, when a path meant as local is missing.

    A hub id is `name` or `owner/name`; a path is meant as local when it starts with ./ / ~, has a file suffix,
    has more than one `/`, or its first folder exists here (`runs/engine` with a `runs/` folder beside you).
    """
    if not path or Path(path).expanduser().exists():
        return
    first = Path(path).parts[0]
    local = (path.startswith((".", "/", "~")) or Path(path).suffix or path.count("/") > 1
             or ("/" in path and Path(first).is_dir()))
    if local:
        raise FileNotFoundError(f"{what} {path!r} does not exist.")


def cmd_train_cmlm(argv: list[str]) -> int:
    from .training import train_cmlm

    data_args, teacher_args, student_args, training_args = _parse(
        argv, "train-cmlm", DataArguments, TeacherArguments, StudentArguments, Seq2SeqTrainingArguments
    )
    _require_path(teacher_args.teacher_model, "--teacher_model")
    _require_path(student_args.student_model, "--student_model")
    metrics = train_cmlm(data_args, teacher_args, student_args, training_args)
    print(f"train-cmlm: saved to {training_args.output_dir}; " + _summary(metrics))
    return 0


def cmd_train_energy(argv: list[str]) -> int:
    from .trainer import EnergyTrainingArguments
    from .training import train_energy

    data_args, student_args, training_args = _parse(
        argv, "train-energy", DataArguments, StudentArguments, EnergyTrainingArguments
    )
    _require_path(training_args.teacher_model, "--teacher_model")
    _require_path(student_args.student_model, "--student_model")
    metrics = train_energy(data_args, student_args, training_args)
    print(f"train-energy: saved to {training_args.output_dir}; " + _summary(metrics))
    return 0


def cmd_distill(argv: list[str]) -> int:
    from transformers import AutoTokenizer

    from .teacher import load_teacher
    from .training import distill_corpus, load_corpus_splits

    data_args, distill_args = _parse(argv, "distill", DataArguments, DistillArguments)
    _require_path(distill_args.teacher_model, "--teacher_model")
    teacher = load_teacher(distill_args.teacher_model)
    tokenizer = AutoTokenizer.from_pretrained(distill_args.teacher_model)
    data_args.max_eval_samples = None
    corpus = load_corpus_splits(data_args)
    start = time.perf_counter()
    path = distill_corpus(teacher, tokenizer, corpus, data_args.src_lang, data_args.tgt_lang, distill_args.output_dir,
                          batch_size=distill_args.batch_size, num_beams=distill_args.num_beams)
    print(f"distill: {len(corpus['train'])} sources -> {path}/train.jsonl in {time.perf_counter() - start:.0f} s")
    return 0


def _read_sources(path: str) -> list[str]:
    if path == "-":
        return [line.rstrip("\n") for line in sys.stdin]
    _require_path(path, "--input")
    return Path(path).read_text(encoding="utf-8").splitlines()


def cmd_translate(argv: list[str]) -> int:
    from .inference import translate

    (args,) = _parse(argv, "translate", TranslateArguments)
    _require_path(args.model, "--model")
    sources = _read_sources(args.input)
    start = time.perf_counter()
    _require_path(args.rescoring_model, "--rescoring_model")
    for line in translate(args.model, sources, num_iterations=args.num_iterations, length_beam=args.length_beam,
                          num_beams=args.num_beams, batch_size=args.batch_size, rescoring_model=args.rescoring_model):
        print(line)
    print(f"translate: {len(sources)} sentences in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


def cmd_evaluate(argv: list[str]) -> int:
    from .inference import evaluate_model

    data_args, args = _parse(argv, "evaluate", DataArguments, EvaluateArguments)
    if "--max_eval_samples" not in argv:  # the training default (200) is for evaluation during training
        data_args.max_eval_samples = None
    _require_path(args.model, "--model")
    _require_path(args.teacher_model, "--teacher_model")
    _require_path(args.rescoring_model, "--rescoring_model")
    scores = evaluate_model(args.model, data_args, split=args.split, teacher_model=args.teacher_model,
                            num_iterations=args.num_iterations, length_beam=args.length_beam,
                            num_beams=args.num_beams, batch_size=args.batch_size,
                            rescoring_model=args.rescoring_model)
    if args.output_file:
        Path(args.output_file).write_text(json.dumps(scores, indent=2))
    print("evaluate: " + _summary(scores))
    return 0


def _prepare_data(argv: list[str]) -> int:
    from .data import prepare_data_main

    return prepare_data_main(argv)


def _convert_bergamot(argv: list[str]) -> int:
    from .convert_bergamot import convert_main

    return convert_main(argv)


def _train_teacher(argv: list[str]) -> int:
    from .teacher_training import train_teacher_main

    return train_teacher_main(argv)


def _summary(metrics: dict) -> str:
    keys = [k for k in metrics
            if any(w in k for w in ("sentences", "bleu", "chrf", "loss", "energy", "repetition", "runtime"))]
    return ", ".join(f"{k}={metrics[k]:.4g}" if isinstance(metrics[k], float) else f"{k}={metrics[k]}" for k in keys)


COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "prepare-data": (_prepare_data, "build a parallel corpus (LibreOffice help, Bibles, local files, hub)"),
    "convert-bergamot": (_convert_bergamot, "convert the Firefox Translations EN<->PT model into a teacher"),
    "train-teacher": (_train_teacher, "train a MarianMT teacher and its tokenizer on a corpus"),
    "train-cmlm": (cmd_train_cmlm, "train the CMLM baseline (cross-entropy on references or distilled data)"),
    "distill": (cmd_distill, "write the teacher's beam-search translations of the training set"),
    "train-energy": (cmd_train_energy, "ENGINE: train the CMLM to minimise the teacher's energy"),
    "translate": (cmd_translate, "translate stdin or a file, one sentence per line"),
    "evaluate": (cmd_evaluate, "BLEU, chrF, repetition and teacher energy of a model on a corpus split"),
}


def _close_process_group() -> None:
    """Destroy the process group a distributed run (`accelerate launch`) opened, once its command has succeeded.

    Why: a gloo rank that exits with its group still open can abort at interpreter shutdown ("terminate called
    without an active exception", SIGABRT) after everything was saved, and the launcher then reports the whole run as
    failed. Only on success: a rank that failed must not wait on the others in a collective teardown."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: engine-hf COMMAND [--help] [options]\n\ncommands:")
        for name, (_, text) in COMMANDS.items():
            print(f"  {name:<17} {text}")
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nengine-hf: error: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        return 0
    command, rest = argv[0], argv[1:]
    try:
        status = COMMANDS[command][0](rest)
        _close_process_group()
        return status
    # RuntimeError: a corpus that cannot be fetched or built; ImportError: an optional dependency is missing.
    except (ValueError, FileNotFoundError, OSError, TypeError, RuntimeError, ImportError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"engine-hf {command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

"""What `accelerate launch` runs: the CMLM baseline or ENGINE energy training, on one or many processes.

    accelerate launch scripts/train.py energy --teacher_model teachers/en-pt --student_model runs/cmlm \
        --output_dir runs/engine --do_train --max_steps 1000 --per_device_train_batch_size 32
    accelerate launch scripts/train.py cmlm --teacher_model teachers/en-pt --output_dir runs/cmlm --do_train ...

Every flag is engine-hf's (`engine-hf train-cmlm --help`, `engine-hf train-energy --help`): the Trainer takes
care of DDP, mixed precision and gradient accumulation; the frozen teacher is moved to each process's device
but never wrapped. On CPU-only machines add `--use_cpu` and launch with `--multi_gpu --num_processes N`
(see the README: `accelerate launch --cpu` starts a single process).
"""

from __future__ import annotations

import sys

from engine_hf.cli import main

JOBS = {"cmlm": "train-cmlm", "energy": "train-energy"}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in JOBS:
        print(f"usage: accelerate launch scripts/train.py {{{'|'.join(JOBS)}}} [engine-hf flags]", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main([JOBS[sys.argv[1]], *sys.argv[2:]]))

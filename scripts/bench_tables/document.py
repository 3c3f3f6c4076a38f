"""docs/RESULTS.md as a whole: its body in order (`render`), the list of its sections, and the marked regions that
it and the README summary are written between (the hand-written text around them stays)."""

from __future__ import annotations

import re
from pathlib import Path

from .benchmark import section_bench
from .gain import section_gain_all
from .measurements import (
    rerun_folders,
    section_compute,
    section_demo,
    section_fidelity,
    section_fresh,
    section_speed,
    section_speed_runs,
    section_teacher_de_en,
    section_train_step,
)


def contents(body: str) -> str:
    """A linked list of `body`'s `###` sections, with the anchors GitHub gives their headings (lower case, spaces to
    hyphens, other punctuation dropped; a repeated heading gets -1, -2, ...)."""
    seen: dict[str, int] = {}
    lines = []
    for heading in re.findall(r"^### (.+)$", body, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchor = slug + (f"-{seen[slug]}" if seen.get(slug) else "")
        seen[slug] = seen.get(slug, 0) + 1
        lines.append(f"- [{heading}](#{anchor})")
    return "**Sections:**\n\n" + "\n".join(lines)


def render() -> str:
    """docs/RESULTS.md's tables and plots, from results/*.json alone (no side effects)."""
    sections = [section_demo(), section_fidelity(), section_teacher_de_en(),
                section_bench("bench_", "", "Benchmark A: EN->PT, Firefox Translations teacher (full budget)"),
                section_bench("bench_", "_quick", "Benchmark A, `--quick` slice (pipeline check, not a result)"),
                section_bench("bench_short_", "", "Benchmark A on short segments: EN->PT help pairs whose reference "
                              "has at most 8 words (a stronger CMLM start; its own test slice)"),
                section_bench("bench_short_", "_quick", "Benchmark A on short segments, `--quick` slice (pipeline "
                              "check, not a result)"),
                section_bench("bench_labels_", "", "Benchmark A on labels: EN->PT help pairs whose reference has at "
                              "most 4 words (a stronger CMLM start still; its own test slice)"),
                section_bench("bench_labels_", "_quick", "Benchmark A on labels, `--quick` slice (pipeline check, not a "
                              "result)"),
                section_gain_all(),
                section_bench("bench_b_", "", "Benchmark B: DE->EN, the MarianMT teacher trained here (full budget)"),
                section_bench("bench_b_", "_quick", "Benchmark B, `--quick` slice (pipeline check, not a result)"),
                section_speed(),
                section_speed("speed_targets", "Decoding speed, the targets' student (CPU; `still_peak_pure_fast`'s "
                              "seed-2 ENGINE, with length beam 5 and the teacher's choice of candidate too)"),
                section_speed("speed_still", "Decoding speed, A's still-encoder ENGINE (CPU; `still_rebuilt`'s seed-2 "
                              "ENGINE, measured with the current `generate()`)"),
                section_speed("speed_b", "Decoding speed, benchmark B (CPU)"),
                section_speed("speed_short", "Decoding speed, short segments (CPU; the short benchmark's ENGINE and "
                              "teacher on its test slice)"),
                section_speed("speed_labels", "Decoding speed, labels (CPU; the labels benchmark's cmlm_long and "
                              "teacher on its test slice, with teacher rescoring)"),
                section_speed("speed_demo", "Decoding speed, help sentences with teacher rescoring (CPU; `make demo`'s "
                              "ENGINE and teacher, run after it)"),
                section_speed("speed_interleaved", "Decoding speed, interleaved repeats (CPU; `make bench`'s ENGINE, "
                              "the same architecture as the targets' student)"),
                section_speed_runs(),
                section_speed("speed_gpu", "Decoding speed on a GPU (`make bench`'s ENGINE and its teacher)", "cuda"),
                section_train_step(), section_compute(),
                *(section_fresh(folder) for folder in rerun_folders())]
    body = "\n\n".join(s for s in sections if s)
    return contents(body) + "\n\n" + body if body else "(no results yet)"


def region(text: str, name: str) -> str:
    """What stands between a document's `<!-- name:start -->` and `<!-- name:end -->` markers."""
    return re.search(rf"<!-- {name}:start -->\n(.*)\n<!-- {name}:end -->", text, flags=re.S).group(1)


def write_region(path: Path, name: str, body: str) -> None:
    """Replace what stands between `path`'s `name` markers with `body`; the hand-written text around it stays."""
    text = path.read_text(encoding="utf-8")
    if f"<!-- {name}:start -->" not in text:
        raise SystemExit(f"{path} has no `<!-- {name}:start -->` / `<!-- {name}:end -->` markers to write between")
    path.write_text(re.sub(rf"<!-- {name}:start -->.*<!-- {name}:end -->",
                           lambda _: f"<!-- {name}:start -->\n{body}\n<!-- {name}:end -->", text, flags=re.S),
                    encoding="utf-8")

"""What every section shares: where the results and the documents are, one stage's results (`load`), the Markdown
table, and the small formatting helpers several topics use.

Other modules read the paths at call time as `common.RESULTS`, `common.DOCS`, ... and never import them by name, so
a test that points `common.RESULTS` at a folder of its own moves every section with it."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"
README = ROOT / "README.md"
DOCS = ROOT / "docs"
RESULTS_DOC = DOCS / "RESULTS.md"


def load(name: str) -> dict | None:
    """results/<name>.json, or None where that stage or script has not written it."""
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def load_speed(name: str, device: str = "cpu") -> dict | None:
    """A `bench_speed.py` file, checked to have been timed on `device` (the CPU tables and the issue's CPU target
    must never read GPU times; files from before `--device` ran on the CPU)."""
    data = load(name)
    if data and (found := data.get("device", "cpu").split(":")[0]) != device:
        raise ValueError(f"results/{name}.json was timed on {found}, but its table is for {device}: time it again "
                         f"with `--device {device}`, or write the {found} run to its own file "
                         "(the GPU table reads results/speed_gpu.json)")
    return data


def table(header: list[str], rows: list[list]) -> str:
    """A Markdown table; floats with one decimal (BLEU and chrF rows format their own where they need more)."""
    def cell(value) -> str:
        return f"{value:.1f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def source(data: dict) -> str:
    """The line under every table: the command that wrote its JSON, and the hardware and threads it ran on."""
    return f"*Command: `{data['command']}`. Hardware: {data.get('hardware', '?')}, {data.get('threads', '?')} thread(s).*"


def unseeded_cmlms(prefix: str, suffix: str = "") -> list[str]:
    """A benchmark's CMLMs recorded without their weights' digest: trained before the student's new layers were seeded
    (the digest came a commit after the seed), so their commands train another draw of the same recipe."""
    return [name for name in ("cmlm_kd", "cmlm_ref")
            if (record := load(f"{prefix}{name}{suffix}")) and "model_sha256" not in record]


def mean_of(points: list[dict], key: str) -> float | None:
    """The mean of `key` over the points that recorded it; None where none did (older records lack some keys)."""
    found = [point[key] for point in points if point.get(key) is not None]
    return statistics.mean(found) if found else None


def slashed(values: list[float | None]) -> str:
    """Two-decimal values side by side, "a / b / c", with "-" for one not recorded (repetition: start / ENGINE /
    control)."""
    return " / ".join("-" if value is None else f"{value:.2f}" for value in values)


def dev_bleu_said(start_choice: dict) -> str:
    """`start_choice`'s dev BLEU of each CMLM in a few words, best first."""
    bleu = start_choice["dev_bleu"]
    return ", ".join(f"`{name}` {bleu[name]:.2f}" for name in sorted(bleu, key=bleu.get, reverse=True))


# The columns `cells` fills: each test corpus's BLEU, chrF, repetition and mean teacher energy (the columns).
SCORE_COLUMNS = [f"{corpus} {measure}" for corpus in ("help", "Bible")
                 for measure in ("BLEU", "chrF", "repetition", "teacher energy")]


def cells(scores: dict) -> list:
    """Help BLEU, chrF, repetition, teacher energy; then the same on the Bible where the benchmark has it."""
    def four(corpus: dict) -> list:
        return [corpus["bleu"], corpus["chrf"], f"{corpus['repetition']:.2f}", f"{corpus['teacher_energy']:.2f}"]

    return four(scores["libreoffice"]) + (four(scores["bible"]) if "bible" in scores else [])


def partial_note(data: dict, expected: int | None = None) -> str:
    """Stages of many short runs write their results after each run; say so while they are unfinished."""
    if not data.get("partial"):
        return ""
    of = f" of {expected}" if expected else ""
    done = len(data.get("rows", data.get("points", [])))
    return f" — **unfinished: {done}{of} rows so far**, the stage resumes where it stopped"


def short_digest(sha: str | None) -> str:
    """The first 8 hex digits of a recorded weights or corpus digest, enough to tell two apart in a table."""
    return sha[:8] if sha else "not recorded"


def mean_range(values: list[float], unit: str, digits: int = 2) -> str:
    """A mean over seeds with its range: "+1.00 BLEU (from +0.52 to +1.34)"; one value alone."""
    if len(values) == 1:
        return f"{values[0]:+.{digits}f} {unit}"
    return (f"{statistics.mean(values):+.{digits}f} {unit} (from {min(values):+.{digits}f} to "
            f"{max(values):+.{digits}f})")


def seeds(n: int) -> str:
    """"1 seed", "3 seeds"."""
    return f"{n} seed" + ("s" if n != 1 else "")


def curve_gap(point: dict, suffix: str = "") -> str:
    """ENGINE - control at a compute-curve point, BLEU / chrF (`suffix` "_10": at ten iterations)."""
    return (f"{point[f'engine_bleu{suffix}'] - point[f'control_bleu{suffix}']:+.2f} / "
            f"{point[f'engine_chrf{suffix}'] - point[f'control_chrf{suffix}']:+.1f}")


def refined_gap(point: dict) -> str:
    """ENGINE minus control at 10 iterations (BLEU / chrF) for a gain or confirm point that has those scores."""
    return curve_gap(point, "_10") if "engine_bleu_10" in point else "-"


def one_pass_row(speed: dict, batch: str = "batch_1") -> dict:
    """A speed file's row for one parallel pass with one length candidate at a batch size ("batch_1": the issue's
    speed target); older files name it with a suffix, and the `nn.Linear output layer` control is not it."""
    rows = speed["results"][batch]
    return rows[next(k for k in rows if k.startswith("NAT 1 iteration, length beam 1") and "nn.Linear" not in k)]


def batch1_ratio(speed: dict) -> float:
    """A speed file's batch-1 ratio to teacher greedy for one parallel pass with one length candidate."""
    return one_pass_row(speed)["speedup_vs_teacher_greedy"]


def interleaved(speed: dict) -> bool:
    """Whether a speed file's repeats were interleaved (`side_by_side_latency`): its rows carry per-repeat ratios."""
    return any("speedup_vs_teacher_greedy_per_repeat" in row for rows in speed["results"].values()
               for row in rows.values())


def ratio_cell(row: dict) -> str:
    """A speed row's ratio to teacher greedy; where its repeats were interleaved (`side_by_side_latency`), with the
    lowest and highest of the per-repeat ratios it is the median of."""
    per_repeat = row.get("speedup_vs_teacher_greedy_per_repeat", [])
    spread = f" ({min(per_repeat):.2f}-{max(per_repeat):.2f})" if len(per_repeat) > 1 else ""
    return f"{row['speedup_vs_teacher_greedy']:.2f}x{spread}"

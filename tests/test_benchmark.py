"""`engine_hf/benchmark.py`: the decoding latency, batch-1 components, output-layer switches and hardware
description that the speed benchmark measures with."""

from __future__ import annotations


def test_decoding_latency_batches_sources_by_length(tokenizer):
    """Batches hold sentences of similar length (as `translate` makes them), so no system pays for another's padding."""
    import torch

    from engine_hf.benchmark import decoding_latency

    class Recorder:
        device = torch.device("cpu")
        widths: list[int] = []

        def generate(self, input_ids, attention_mask, **kwargs):
            self.widths.append(input_ids.shape[1])
            return input_ids

    sources = ["Und Gott sprach: Es werde Licht! Und es ward Licht, und es war gut so.", "Am Anfang.",
               "Und Gott sah das Licht.", "Es werde Licht!"]
    model = Recorder()
    result = decoding_latency(model, tokenizer, sources, batch_size=2, repeats=1)
    assert result["sentences"] == 4 and result["batch_size"] == 2 and result["sentences_per_second"] > 0
    timed = model.widths[1:]  # after the untimed warm-up batch
    short = max(len(tokenizer(s)["input_ids"]) for s in ("Am Anfang.", "Es werde Licht!"))
    assert timed[0] == short and timed[0] < timed[1]
    # the Recorder "translates" a source into itself: its mean output length is the sources' (specials excluded)
    words = sum(len(tokenizer(s, add_special_tokens=False)["input_ids"]) for s in sources)
    assert result["mean_output_tokens"] == words / 4


def test_side_by_side_latency_interleaves_repeats_and_takes_the_ratio_within_each(tokenizer):
    """Each repeat times every system once, in an order rotated from repeat to repeat and reversed every other one; a
    system's context is entered around its own runs only; the ratio to the baseline is the median of the per-repeat
    ratios, each one recorded."""
    import time
    from contextlib import contextmanager

    import pytest
    import torch

    from engine_hf.benchmark import TimedSystem, side_by_side_latency

    log: list[str] = []
    inside: list[str] = []

    class Sleeper:
        device = torch.device("cpu")

        def __init__(self, name: str, seconds: float) -> None:
            self.name, self.seconds = name, seconds

        def generate(self, input_ids, attention_mask, **kwargs):
            log.append(self.name + ("*" if inside else ""))
            time.sleep(self.seconds)
            return input_ids

    @contextmanager
    def switched():
        inside.append("on")
        yield
        inside.pop()

    systems = {"slow": TimedSystem(Sleeper("slow", 0.02), {}), "fast": TimedSystem(Sleeper("fast", 0.005), {}),
               "fast switched": TimedSystem(Sleeper("fast", 0.005), {}, switched)}
    rows = side_by_side_latency(systems, tokenizer, ["Am Anfang.", "Es werde Licht!"], batch_size=2, repeats=3,
                                baseline="slow")
    # warm-up once each, then the repeats: rotated, the second also reversed; the context only around its own system
    assert log == ["slow", "fast", "fast*", "slow", "fast", "fast*", "slow", "fast*", "fast", "fast*", "slow", "fast"]
    assert not inside
    assert rows["slow"]["speedup_vs_slow"] == 1.0 and rows["slow"]["speedup_vs_slow_per_repeat"] == [1.0] * 3
    ratios = rows["fast"]["speedup_vs_slow_per_repeat"]
    assert len(ratios) == 3 and rows["fast"]["speedup_vs_slow"] == sorted(ratios)[1]
    assert 2 < rows["fast"]["speedup_vs_slow"] < 4.5  # 20 ms against 5 ms, less the sleeps' overhead
    assert rows["fast"]["repeats"] == 3 and rows["fast"]["sentences"] == 2
    per_repeat = rows["slow"]["seconds_per_sentence_per_repeat"]
    assert len(per_repeat) == 3 and rows["slow"]["seconds_per_sentence"] == sorted(per_repeat)[1] >= 0.01
    with pytest.raises(ValueError, match="baseline 'teacher' is not one of the systems timed"):
        side_by_side_latency(systems, tokenizer, ["Am Anfang."], batch_size=1, baseline="teacher")


def test_batch1_components_time_both_encoders_and_the_output_layer_at_both_widths(tokenizer):
    from conftest import tiny_cmlm_config, tiny_marian

    from engine_hf import CMLMForConditionalGeneration
    from engine_hf.benchmark import batch1_components

    student = CMLMForConditionalGeneration(tiny_cmlm_config(tokenizer)).eval()
    parts = batch1_components(student, tiny_marian(tokenizer).eval(), tokenizer, ["Am Anfang.", "Es werde Licht!"],
                              student_output_tokens=6.4, repeats=2)
    assert list(parts) == ["student encoder", "teacher encoder", "output layer, 1 position (one teacher step)",
                           "output layer, 6 positions (one parallel pass)"]
    assert all(ms > 0 for ms in parts.values())


def test_shortlisted_output_layer_keeps_ids_and_greedy_outputs_and_is_restored(tokenizer):
    """A shortlist containing every id the full models emit changes no output; other ids get -inf; lm_head returns."""
    import torch
    from conftest import tiny_cmlm_config, tiny_marian

    from engine_hf import CMLMForConditionalGeneration
    from engine_hf.benchmark import ShortlistOutputLayer, shortlisted

    torch.manual_seed(0)
    student = CMLMForConditionalGeneration(tiny_cmlm_config(tokenizer)).eval()
    teacher = tiny_marian(tokenizer).eval()
    batch = tokenizer(["Am Anfang.", "Es werde Licht!"], return_tensors="pt", padding=True)
    with torch.no_grad():
        full = {"teacher": teacher.generate(**batch, num_beams=1, max_new_tokens=8),
                "student": student.generate(**batch, num_iterations=1, length_beam=1)}
    keep = torch.cat([ids.flatten() for ids in full.values()] + [torch.tensor(tokenizer.all_special_ids)]).unique()
    assert len(keep) < len(tokenizer) // 4  # a real restriction
    layer = ShortlistOutputLayer(teacher.lm_head, keep)
    hidden = torch.randn(3, teacher.config.d_model)
    logits = layer(hidden)
    assert logits.shape == (3, len(tokenizer))
    torch.testing.assert_close(logits[:, keep], teacher.lm_head(hidden)[:, keep].detach())
    dropped = torch.ones(len(tokenizer), dtype=torch.bool)
    dropped[keep] = False
    assert torch.isneginf(logits[:, dropped]).all()
    with torch.no_grad():
        with shortlisted(teacher, keep):
            assert isinstance(teacher.lm_head, ShortlistOutputLayer)
            assert torch.equal(teacher.generate(**batch, num_beams=1, max_new_tokens=8), full["teacher"])
        with shortlisted(student, keep):
            assert torch.equal(student.generate(**batch, num_iterations=1, length_beam=1), full["student"])
    assert isinstance(teacher.lm_head, torch.nn.Linear) and isinstance(student.lm_head, torch.nn.Linear)


def test_linear_output_layer_turns_the_vocabulary_major_projection_off_and_back_on(tokenizer, monkeypatch):
    """Inside `linear_output_layer` generate() projects with nn.Linear only; outputs are the same; restored on exit."""
    import torch
    from conftest import tiny_cmlm_config

    from engine_hf import CMLMForConditionalGeneration, modeling_cmlm
    from engine_hf.benchmark import linear_output_layer

    torch.manual_seed(0)
    student = CMLMForConditionalGeneration(tiny_cmlm_config(tokenizer)).eval()
    batch = tokenizer(["Am Anfang.", "Es werde Licht!"], return_tensors="pt", padding=True)
    calls = []
    output_logits = student.output_logits
    monkeypatch.setattr(student, "output_logits",
                        lambda hidden, vocabulary_major=False: calls.append(vocabulary_major) or output_logits(
                            hidden, vocabulary_major))
    lengths = torch.tensor([3, 4])  # 7 positions: a batch-1-sized pass
    default = student.generate(**batch, num_iterations=2, target_lengths=lengths)
    assert calls and all(calls)  # a few positions: vocabulary-major
    calls.clear()
    with linear_output_layer():
        assert modeling_cmlm.VOCABULARY_MAJOR_MAX_ROWS == 0
        assert torch.equal(student.generate(**batch, num_iterations=2, target_lengths=lengths), default)
    assert calls and not any(calls)
    assert modeling_cmlm.VOCABULARY_MAJOR_MAX_ROWS == 32


def test_hardware_description_names_cores_cpu_model_and_vector_unit():
    import os

    import torch

    from engine_hf.benchmark import hardware_description

    text = hardware_description()
    assert text.startswith(f"{os.cpu_count()} CPU cores (")
    assert f", {torch.backends.cpu.get_cpu_capability()}), " in text
    assert text.endswith("no GPU") != torch.cuda.is_available()
    # asked about a CPU run on a machine with a GPU, it says the GPU was not used
    assert hardware_description("cpu").endswith("not used" if torch.cuda.is_available() else "no GPU")

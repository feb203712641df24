import pytest

from crawler.extract.gpus import find_gpus, normalise_gpu, spec_for, split_count, taxonomy


@pytest.mark.parametrize("raw, canonical, count", [
    ("NVIDIA H100 80GB HBM3", "H100 SXM", None),
    ("NVIDIA H100 PCIe", "H100 PCIe", None),
    ("H100-PCIE-80GB", "H100 PCIe", None),
    ("H100-80GB", "H100", None),
    ("NVIDIA H100 80GB", "H100", None),
    ("1 x NVIDIA A100-SXM4-40GB", "A100 SXM", 1),
    ("384 A100 80GB GPUs", "A100", 384),
    ("8 v100 GPUs", "V100", 8),
    ("NVIDIA_GeForce_RTX_3070", "RTX 3070", None),
    ("NVIDIA RTX 4000 Ada Generation", "RTX 4000 Ada", None),
    ("4 RTX3090 24GB GPUs", "RTX 3090", 4),
    ("1 x A10G", "A10", 1),
    ("NVIDIA GeForce RTX 4090", "RTX 4090", None),
    ("RTX 3090 Ti", "RTX 3090 Ti", None),
    ("8xH100", "H100", 8),
    ("A100 x 8", "A100", 8),
    ("NVIDIA RTX 4000 SFF Ada Generation", "RTX 4000 SFF Ada", None),
    ("1 x Tesla T4", "T4", 1),
    # rows added for names real posts use
    ("Tesla P40", "P40", None),
    ("Tesla P100-PCIE-16GB", "P100 PCIe", None),
    ("Tesla P100-SXM2-16GB", "P100 SXM2", None),
    ("P100", "P100", None),
    ("Tesla P4", "P4", None),
    ("NVIDIA A2", "A2", None),
    ("NVIDIA A16", "A16", None),
    ("NVIDIA A10G", "A10", None),
    ("NVIDIA A800-SXM4-80GB", "A800 SXM", None),
    ("NVIDIA H800 PCIe", "H800 PCIe", None),
    ("H800", "H800", None),
    ("NVIDIA H20", "H20", None),
    ("NVIDIA L20", "L20", None),
    ("NVIDIA L40", "L40", None),
    ("NVIDIA L40S", "L40S", None),
    ("NVIDIA H200 NVL", "H200 NVL", None),
    ("NVIDIA H200", "H200 SXM", None),
    ("GB200 NVL72", "GB200", None),
    ("B100", "B100", None),
    ("NVIDIA GeForce RTX 4080 Laptop GPU", "RTX 4080 Laptop", None),
    ("RTX 3060 Mobile", "RTX 3060 Laptop", None),
    ("RTX 4090 Max-Q", "RTX 4090 Laptop", None),
    ("NVIDIA GeForce RTX 5070 Ti", "RTX 5070 Ti", None),
    ("NVIDIA GeForce RTX 3050 6GB", "RTX 3050 6GB", None),
    ("GeForce RTX 2080 Ti", "RTX 2080 Ti", None),
    ("GTX 1660S", "GTX 1660 Super", None),
    ("GTX 1080", "GTX 1080", None),
    ("NVIDIA TITAN RTX", "Titan RTX", None),
    ("Jetson AGX Orin 64GB", "Jetson AGX Orin", None),
    ("Jetson Orin", "Jetson Orin", None),
    ("AMD Instinct MI250X / MI250", "MI250X", None),
    ("MI355", "MI355X", None),
    ("AMD Instinct MI325X", "MI325X", None),
    ("AMD Radeon RX 7900 XTX", "RX 7900 XTX", None),
    ("Intel Gaudi2", "Gaudi 2", None),
    ("HL-225", "Gaudi 2", None),
    ("Intel Gaudi 3", "Gaudi 3", None),
    ("A4000", "RTX A4000", None),
    ("Tesla T4", "T4", None),
    ("NVIDIA A30", "A30", None),
    ("NVIDIA A40", "A40", None),
    ("AMD Instinct MI210", "MI210", None),
    ("MI100", "MI100", None),
    ("MI250", "MI250", None),
    ("Jetson AGX Xavier", "Jetson AGX Xavier", None),
    ("Jetson Xavier NX", "Jetson Xavier NX", None),
    ("Jetson Orin Nano", "Jetson Orin Nano", None),
    ("TITAN V", "Titan V", None),
    ("GeForce GTX 1660 Ti", "GTX 1660 Ti", None),
    ("GeForce GTX 1070", "GTX 1070", None),
    ("RTX 2060", "RTX 2060", None),
    ("RTX 2070", "RTX 2070", None),
    ("RTX 2080", "RTX 2080", None),
    ("RTX 5070", "RTX 5070", None),
    ("RTX 5060 Ti 16GB", "RTX 5060 Ti", None),
    ("RTX 5090", "RTX 5090", None),
    # counts
    ("2x 3090", "RTX 3090", 2),
    ("two RTX 4060 Ti", "RTX 4060 Ti", 2),
    ("dual 3090s", "RTX 3090", 2),
    ("T4x2", "T4", 2),
    ("RTX 3090 x2", "RTX 3090", 2),
    ("1xA4500", "RTX A4500", 1),
    # a name that is only a GeForce model number is that card
    ("4090", "RTX 4090", None),
    ("3090 Ti", "RTX 3090 Ti", None),
    ("1660 super", "GTX 1660 Super", None),
    ("A100s", "A100", None),
])
def test_raw_names_normalise(raw, canonical, count):
    match = normalise_gpu(raw)
    assert (match.canonical, match.count) == (canonical, count)
    assert match.raw == raw


@pytest.mark.parametrize("raw", ["Apple M1 Pro", "Tesla X900", "CPU", "A1",
                                 # short names that mean other things unless the vendor is named
                                 "P4", "A2", "A16",
                                 # AWS instance names glue letters to the number
                                 "p4d.24xlarge", "g4dn.xlarge",
                                 "MI300", "2023", "Jetson Nano"])
def test_unknown_names_have_no_spec(raw):
    match = normalise_gpu(raw)
    assert match.spec is None and match.canonical is None
    assert match.count is None  # "X900" is a model number, not "x 900 GPUs"


def test_taxonomy_has_the_tdps_of_sources_md():
    expected = {"H100 PCIe": 350, "H100 SXM": 700, "A100 PCIe 40GB": 250, "A100 PCIe 80GB": 300,
                "A100 SXM": 400, "L40S": 350, "L4": 72, "A10": 150, "T4": 70, "V100 SXM": 300,
                "V100 PCIe": 250, "RTX 4090": 450, "RTX 3090": 350, "RTX 3070": 220,
                "RTX A6000": 300, "RTX A5000": 230, "RTX A4500": 200, "RTX A4000": 140,
                "RTX 4000 Ada": 130, "RTX 2000 Ada": 70, "B200": 1000, "H100 NVL": 400}
    assert {name: spec_for(name).tdp_w for name in expected} == expected


def test_form_factor_unknown_names_have_no_tdp_but_a_ceiling():
    h100 = spec_for("H100")
    assert h100.tdp_w is None and h100.form_factor is None
    assert h100.power_ceiling_w == 700


def test_every_row_is_complete_and_aliases_are_unique():
    aliases = [alias for spec in taxonomy() for alias in spec.aliases]
    assert len(aliases) == len(set(aliases))
    for spec in taxonomy():
        assert spec.vendor and spec.family and spec.aliases
        # TPUs have no published board power: no TDP and no ceiling to flag figures against.
        assert spec.power_ceiling_w or spec.family == "TPU"
        assert spec.tdp_w is None or spec.tdp_w <= spec.power_ceiling_w


def test_split_count_keeps_suffixes_of_model_numbers():
    assert split_count("4090 Ti") == (None, "4090 Ti")
    assert split_count("3090s") == (None, "3090s")
    assert split_count("4080 Laptop") == (None, "4080 Laptop")
    assert split_count("8 GPUs") == (None, "8 GPUs")
    assert split_count("8 GB") == (None, "8 GB")
    assert split_count("8x") == (None, "8x")
    assert split_count("eight H100") == (8, "H100")


def test_new_rows_have_their_own_power():
    expected = {"P40": (250, 250), "P100 PCIe": (250, 250), "P100 SXM2": (300, 300), "P100": (None, 300),
                "P4": (75, 75), "A2": (60, 60), "A16": (250, 250), "A10": (150, 300),
                "A800 SXM": (400, 400), "H800 SXM": (700, 700), "H20": (400, 400), "L20": (275, 275),
                "H200 NVL": (600, 600), "B100": (700, 700), "RTX 4080 Laptop": (None, 175),
                "RTX 4090 Laptop": (None, 175), "RTX 5080": (360, 360), "RTX 3050 6GB": (70, 70),
                "GTX 1080 Ti": (250, 250), "Titan V": (250, 250), "Jetson AGX Orin": (60, 60),
                "MI355X": (1400, 1400), "MI300X": (750, 750), "MI210": (300, 300),
                "RX 7900 XTX": (355, 355), "Gaudi 2": (600, 600), "Gaudi 3": (900, 900)}
    assert {name: (spec_for(name).tdp_w, spec_for(name).power_ceiling_w) for name in expected} == expected


def test_laptop_rows_are_not_the_desktop_cards():
    laptop, desktop = spec_for("RTX 4080 Laptop"), spec_for("RTX 4080")
    assert laptop.form_factor == "Laptop" and desktop.form_factor == "Desktop"
    assert normalise_gpu("RTX 4080").canonical == "RTX 4080"


def mentions(text):
    return [(m.match.raw, m.match.canonical, m.match.count) for m in find_gpus(text)]


@pytest.mark.parametrize("text, found", [
    # counts before the name, with or without spaces, spelled, and Kaggle's count after it
    ("ran it on 3x P40 last week", [("3x P40", "P40", 3)]),
    ("we have 2 x A100 here", [("2 x A100", "A100", 2)]),
    ("trained on 16×H100", [("16×H100", "H100", 16)]),
    ("Accelerator: GPU T4x2", [("GPU T4x2", "T4", 2)]),
    ("8 x NVIDIA A40 nodes", [("8 x NVIDIA A40", "A40", 8)]),
    ("a 1xA4500 box", [("1xA4500", "RTX A4500", 1)]),
    ("two Nvidia RTX 4060 Ti cards", [("two Nvidia RTX 4060 Ti", "RTX 4060 Ti", 2)]),
    ("on 4xH100 SXM nodes", [("4xH100 SXM", "H100 SXM", 4)]),
    ("8 GPUs in total", []),
    # names as people write them
    ("Tesla P40 and a P40", [("Tesla P40", "P40", None), ("P40", "P40", None)]),
    ("my NVIDIA P40 24GB", [("NVIDIA P40 24GB", "P40", None)]),
    ("RTX 3060 12GB draws 170W", [("RTX 3060 12GB", "RTX 3060", None)]),
    ("Tesla V100-PCIE-32GB", [("Tesla V100-PCIE-32GB", "V100 PCIe", None)]),
    ("|   0  Tesla V100-PCIE...  Off  |", [("Tesla V100-PCIE", "V100 PCIe", None)]),
    ("NVIDIA GeForce RTX 3050 6 GB GA107", [("NVIDIA GeForce RTX 3050 6 GB", "RTX 3050 6GB", None)]),
    ("a GTX 1660 super", [("GTX 1660 super", "GTX 1660 Super", None)]),
    ("H100 (HBM3) and A100 (HBM2e)", [("H100 (HBM3)", "H100 SXM", None), ("A100 (HBM2e)", "A100", None)]),
    ("L40S (GDDR6)", [("L40S (GDDR6)", "L40S", None)]),
    ("A100-SXM4-40GB", [("A100-SXM4-40GB", "A100 SXM", None)]),
    ("Nvidia A100 80G", [("Nvidia A100 80G", "A100", None)]),
    ("an A100 80GiB for 2 hours", [("A100 80GiB", "A100", None)]),
    ("the A100 8 times", [("A100", "A100", None)]),
    ("MI355 and AMD Instinct MI300X", [("MI355", "MI355X", None), ("AMD Instinct MI300X", "MI300X", None)]),
    ("on Gaudi 2", [("Gaudi 2", "Gaudi 2", None)]),
    ("RTX 5060 Ti  16GB", [("RTX 5060 Ti  16GB", "RTX 5060 Ti", None)]),
    ("an RTX 4080 Laptop GPU", [("RTX 4080 Laptop", "RTX 4080 Laptop", None)]),
    ("RTX 4090 Laptop and RTX 3060 Mobile",
     [("RTX 4090 Laptop", "RTX 4090 Laptop", None), ("RTX 3060 Mobile", "RTX 3060 Laptop", None)]),
    ("on a Jetson AGX Orin and an Orin Nano",
     [("Jetson AGX Orin", "Jetson AGX Orin", None), ("Orin Nano", "Jetson Orin Nano", None)]),
    ("Tesla P4 and NVIDIA A2", [("Tesla P4", "P4", None), ("NVIDIA A2", "A2", None)]),
    # a bare GeForce number is a card when the words around it say so
    ("my 5090 and a 4090", [("5090", "RTX 5090", None), ("4090", "RTX 4090", None)]),
    ("the 3090 is loud", [("3090", "RTX 3090", None)]),
    ("dual 3090s", [("dual 3090s", "RTX 3090", 2)]),
    ("2x 3090 on one board", [("2x 3090", "RTX 3090", 2)]),
    ("an old 1080 Ti", [("1080 Ti", "GTX 1080 Ti", None)]),
    ("4070 Super GPU", [("4070 Super GPU", "RTX 4070 Super", None)]),
    ("4090s are scarce", [("4090s", "RTX 4090", None)]),
    ("generated 4090 tokens in 2080 steps in 2024", []),
    ("the 2023 report", []),
    # A TPU named by generation is that TPU; without one it is a mention without a spec
    ("TPU v3-8 and TPU v3-256", [("TPU v3-8", "TPU v3", None), ("TPU v3-256", "TPU v3", None)]),
    ("TPUv3 pods", [("TPUv3", "TPU v3", None)]),
    ("a v4-64 TPU slice", [("v4-64 TPU", None, None)]),
])
def test_gpus_named_in_posts(text, found):
    assert mentions(text) == found


@pytest.mark.parametrize("text", [
    "AmpereOne A192-32X at 3.0 GHz",
    "Intel i9-13000H laptop",
    "AMD EPYC 7713 and an Intel Xeon",
    "Qwen3-30B-A3B runs fast",
    "a T5 encoder",
    "the card sits in P8 and P0",
    "H2O.ai runs",
    "BitNet-B1.58 2B4T and Gemma-2B",
    "COOL4 GL4 BL4ST",
    "quantised to Q4 with GGUF",
    "the A1111 UI (AUTOMATIC1111)",
    "an Apple M1 or M2",
    "a g4dn.xlarge and a p4d.24xlarge",
    "a bare P4 state and cell A2 and Apple A16",
])
def test_things_that_are_not_gpus(text):
    assert mentions(text) == []


def test_tpus_are_named_by_generation_and_have_no_board_power():
    assert mentions("TPU v3") == [("TPU v3", "TPU v3", None)]
    assert normalise_gpu("TPU VM v3-8").canonical == "TPU v3"
    assert normalise_gpu("TPU v4").spec.tdp_w is None
    assert mentions("TPUs") == [("TPUs", None, None)]


@pytest.mark.parametrize("raw, canonical, tdp", [
    ("AMD Radeon RX 6800 XT", "RX 6800 XT", 300.0), ("RX 6800", "RX 6800", 250.0),
    ("Quadro RTX 6000", "Quadro RTX 6000", 295.0), ("RTX 6000 Ada Generation", "RTX 6000 Ada", 300.0),
    ("NVIDIA RTX PRO 6000 Blackwell", "RTX PRO 6000 Blackwell", 600.0), ("Intel Arc A770", "Arc A770", 225.0),
    ("AMD Instinct MI50", "MI50", 300.0),
])
def test_more_cards_posts_name(raw, canonical, tdp):
    match = normalise_gpu(raw)
    assert (match.canonical, match.spec.tdp_w) == (canonical, tdp)


def test_mentions_are_found_anywhere_in_a_long_text():
    # The full patterns run only around model numbers and digitless names: none may be missed.
    filler = "Throughput was measured over many prompts with the same settings. " * 80
    text = (filler + "We ran 8x NVIDIA A100-SXM4-80GB. " + filler + "Then a Jetson AGX Orin, " + filler
            + "a Titan V and my 4090.")
    assert [m.match.canonical for m in find_gpus(text)] == ["A100 SXM", "Jetson AGX Orin", "Titan V", "RTX 4090"]


def test_a_short_text_is_searched_from_a_name_before_a_far_model_number():
    # Under MENTION_TAIL characters the one window starts at the first anchor: here the Titan, not
    # the A100 more than MENTION_LEAD characters after it.
    text = "A Titan V at first, " + "then many prompts later " * 4 + "an A100."
    assert len(text) <= 200 and text.index("A100") > 80
    assert [m.match.canonical for m in find_gpus(text)] == ["Titan V", "A100"]


def test_a_mention_right_after_the_end_of_another_is_found():
    # "\u0662" is an Arabic-Indic two: a digit to the pattern but no letter or digit of [A-Za-z0-9],
    # so the count starts a mention where the first one ends.
    assert [(m.match.canonical, m.match.count, m.start) for m in find_gpus("A100 (HBM2e)\u0662x H100")] == [
        ("A100", None, 0), ("H100", 2, 12)]


def test_folded_letters_are_every_character_a_case_blind_letter_matches():
    """case_blind_first spells a letter as a case-sensitive class: it must hold every character
    the case-blind letter matches, or a mention written with one would be missed."""
    import re
    import sys

    from crawler.extract.gpus import FOLDED_LETTERS
    any_letter = re.compile("[a-z]", re.IGNORECASE)
    extras: dict[str, str] = {}
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if not char.isascii() and any_letter.match(char):
            letter = next(a for a in "abcdefghijklmnopqrstuvwxyz" if re.match(a, char, re.IGNORECASE))
            extras[letter] = extras.get(letter, "") + char
    assert extras == FOLDED_LETTERS


@pytest.mark.parametrize("text, raw", [
    ("on an İntel Gaudi 2", "İntel Gaudi 2"),  # the dotted capital I folds to i case-blind
    ("two nvidia GPU H100 cards", "two nvidia GPU H100"),
])
def test_mentions_starting_with_letters_that_fold(text, raw):
    assert [mention.match.raw for mention in find_gpus(text)] == [raw]


def test_a_model_number_after_a_letter_that_folds_is_still_read_as_one():
    from crawler.extract.gpus import _MENTION_AFTER_EDGE_RE
    # The Kelvin sign folds to k; the search's match holds the character before the mention.
    assert _MENTION_AFTER_EDGE_RE.search("on a \u212a80 box")[0] == " \u212a80"


@pytest.mark.parametrize("raw, count", [("ſix H100", 6), ("ſingle A100", 1), ("Sİx L4", 6), ("sıx T4", 6),
                                        ("SIX H100", 6)])
def test_a_spelled_count_written_with_letters_that_fold_is_read(raw, count):
    """The count patterns match case-blind, so "ſix" (long s) is a count word to them; the count is
    looked up as the ASCII word it was matched as (this raised KeyError before)."""
    assert split_count(raw)[0] == count
    assert normalise_gpu(raw).count == count

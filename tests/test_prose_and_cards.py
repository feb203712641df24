import pytest

from crawler.extract.datafiles import DataFileError
from crawler.extract.gpus import find_gpus
from crawler.extract.model_cards import (co2_eq_emissions_records, decode_card, extract_card,
                                         split_front_matter, template_records)
from crawler.extract.documents import document_records
from crawler.extract.markdown_doc import parse_blocks
from crawler.extract.prose import batch_size, gpu_count, sentences
from crawler.spiders.hub_models import candidate_reason


@pytest.mark.parametrize("text, found", [
    ("hardware of type H100-80GB (TDP of 700W)", [("H100-80GB", "H100")]),
    ("on an H100 PCIe at batch size 8", [("H100 PCIe", "H100 PCIe")]),
    ("8x A100-SXM4-80GB and an RTX 4090", [("8x A100-SXM4-80GB", "A100 SXM"), ("RTX 4090", "RTX 4090")]),
    ("NVIDIA RTX 4000 Ada Generation cards", [("NVIDIA RTX 4000 Ada Generation", "RTX 4000 Ada")]),
    ("an L2 cache and layer 4 of B2 units", []),
])
def test_gpus_named_in_prose(text, found):
    assert [(m.match.raw, m.match.canonical) for m in find_gpus(text)] == found


def simple(record):
    return {key: value for key, value in record.items() if value not in (None, []) and key not in
            ("extractor", "locator", "excerpt", "notes")}


def prose(text: str, **kwargs) -> list[dict]:
    return document_records(text, table_extractor="t", locator_prefix="", **kwargs).records


def test_prose_sentence_with_full_context():
    record, = prose("During inference it draws about 300 W per GPU on an H100 PCIe at "
                    "batch size 8 (measured with nvidia-smi).")
    assert simple(record) == {"power_w": 300.0, "gpu_raw": "H100 PCIe", "batch_size": 8,
                              "workload": "inference", "method": "nvidia-smi", "scope": "gpu",
                              "power_kind": "measured"}
    assert "approximate ('about 300 W')" in record["notes"]


def test_prose_energy_per_token():
    record, = prose("0.4 J per token on A100.")
    assert simple(record) == {"energy_per_token_j": 0.4, "gpu_raw": "A100", "workload": "unknown"}


def test_prose_context_from_earlier_sentences_of_the_paragraph():
    text = ("We ran Llama-2-7b inference on one NVIDIA H100 PCIe with Zeus, where the GPU idles at 48 W. "
            "At batch size 16 it averaged ~285 W steady-state and peaked at 342 W. "
            "An RTX 4090 drew 400 W.")
    idle, steady, peak, other = prose(text)
    assert (idle["phase"], idle["power_w"], idle["batch_size"]) == ("idle", 48.0, None)
    assert (steady["phase"], steady["power_kind"], steady["gpu_raw"], steady["batch_size"],
            steady["method"]) == ("steady", "measured", "NVIDIA H100 PCIe", 16, "zeus")
    assert (peak["phase"], peak["power_kind"], peak["power_w"]) == ("peak", "peak", 342.0)
    assert "GPU from an earlier sentence" in steady["notes"]
    # The last sentence names its own GPU.
    assert (other["gpu_raw"], other["power_w"]) == ("RTX 4090", 400.0)
    assert other["excerpt"] == "An RTX 4090 drew 400 W."


def test_prose_tdp_is_rated_and_the_wall_is_system_level():
    rated, = prose("The H100 SXM has a TDP of 700W.")
    assert (rated["power_kind"], rated["flags"]) == ("rated", ["rated_not_measured"])
    system, = prose("Our box with an RTX 4090 draws 600 W at the wall.")
    assert (system["scope"], system["flags"]) == ("system", ["system_level"])


def test_figures_in_code_are_not_statements_but_are_counted():
    text = "Settings:\n\n```python\npower_limit = 350  # W\nprint('250 W')\n```\n\nUse `--cap 300W`."
    extraction = document_records(text, table_extractor="t", locator_prefix="")
    assert extraction.records == []
    assert extraction.skipped == {"code": 1, "cap": 1}


def test_sentence_split_and_batch_size_and_gpu_count():
    assert sentences("One at 3 W. Two at 4 W.\nthree at 5 W") == [
        (0, "One at 3 W."), (12, "Two at 4 W."), (24, "three at 5 W")]
    assert [batch_size(t) for t in ("batch size of 32", "bs=4", "batch 8", "8 prompts per batch", "no")] == [
        32, 4, 8, 8, None]
    assert [gpu_count(t) for t in ("on 8 GPUs", "GPU quantity: 2", "TP=4", "two GPUs", "a GPU")] == [
        8, 2, 4, 2, None]


@pytest.mark.parametrize("entry, kg", [
    ({"emissions": 24_700_000, "hardware_used": "384 A100 80GB GPUs"}, 24_700.0),
    (17, 0.017),
    ("17g", 0.017),
    ("1.5 kg", 1.5),
    ("24_700_000", 24_700.0),
    ({"emissions": 12.5, "source": "codecarbon"}, 0.0125),
])
def test_co2_eq_emissions_forms(entry, kg):
    record, = co2_eq_emissions_records({"co2_eq_emissions": entry})
    assert record["co2_kg"] == pytest.approx(kg)
    assert record["extractor"] == "card_yaml.co2_eq_emissions"


def test_co2_eq_emissions_context():
    record, = co2_eq_emissions_records({"co2_eq_emissions": {
        "emissions": 12.5, "source": "codecarbon", "training_type": "fine-tuning",
        "geographical_location": "Frankfurt", "hardware_used": "1 x NVIDIA A100-SXM4-40GB"}})
    assert (record["workload"], record["method"], record["gpu_raw"]) == (
        "fine-tuning", "codecarbon", "1 x NVIDIA A100-SXM4-40GB")
    assert "Frankfurt" in record["notes"]
    estimated, = co2_eq_emissions_records({"co2_eq_emissions": {
        "emissions": 5, "source": "ML CO2 Impact calculator", "training_type": "pre-training"}})
    assert (estimated["method"], estimated["workload"]) == ("tdp-estimate", "training")


@pytest.mark.parametrize("metadata", [{}, {"co2_eq_emissions": None}, {"co2_eq_emissions": "lots"}])
def test_no_usable_co2_gives_no_record(metadata):
    assert co2_eq_emissions_records(metadata) == []


TEMPLATE = """## Environmental Impact

- **Hardware Type:** 1 x NVIDIA T4
- **Hours used:** 3.5
- **Cloud Provider:** Google Cloud Platform
- **Compute Region:** [More Information Needed]
- **Carbon Emitted:** 0.25 kg CO2eq
"""


def template(text: str) -> list[dict]:
    return template_records(parse_blocks(text))[0]


def test_template_bullets():
    record, = template(TEMPLATE)
    assert (record["gpu_raw"], record["gpu_hours"], record["co2_kg"]) == ("1 x NVIDIA T4", 3.5, 0.25)
    assert "Google Cloud Platform" in record["notes"] and "Compute Region" not in record["notes"]


def test_unfilled_template_gives_nothing():
    unfilled = TEMPLATE.replace("3.5", "[More Information Needed]").replace(
        "0.25 kg CO2eq", "[More Information Needed]")
    assert template(unfilled) == []


def test_template_label_variants_and_each_list_its_own_record():
    text = """### Model A

Estimated with the Machine Learning Impact calculator.

* **Hardware Type:** TPU v3-8
* **Hours used:** 72 (3 days)
* **Carbon Emitted (Power consumption x Time x Carbon produced based on location of power grid):** 30.16 kg CO2 eq.

### Model B

* **Hardware Type:** TPU v3-256
* **Hours used:** 960 - 1080 hours (40-45 days)
* **Carbon Emitted (Power consumption x Time x Carbon produced based on location of power grid):** Unknown
"""
    first, second = template(text)
    assert (first["gpu_hours"], first["co2_kg"], first["method"]) == (72.0, 30.16, "tdp-estimate")
    # A range of hours: the midpoint, both ends kept.
    assert (second["gpu_hours"], second["bounds"], second.get("co2_kg")) == (1020.0, {"gpu_hours": [960.0, 1080.0]}, None)


@pytest.mark.parametrize("line, kg", [
    ("- **Carbon Emitted:** 250 W x 10 h x 0.4 kg/kWh = 1 kg CO2eq", 1.0),  # the result, not the first number
    ("- **Carbon Emitted:** ~5.3 kg CO₂eq (estimated)", 5.3),
    ("- **Carbon Emitted:** 0.6 kg (According to the ML CO2 Impact calculator)", 0.6),
    ("- **Carbon Emitted:** 1.2 tons CO2eq", 1200.0),
    ("- CO2 Emissions (in grams): 25.4476", 0.0254476),
])
def test_template_carbon_values(line, kg):
    record, = template(line + "\n")
    assert record["co2_kg"] == pytest.approx(kg)


def test_training_time_is_read_with_the_template_not_alone():
    record, = template("- **Hardware Type:** NVIDIA RTX 4090\n- **Training Time:** ~10 hours\n"
                       "- **Carbon Emitted:** ~5.3 kg CO2eq\n")
    assert (record["duration_s"], record["co2_kg"]) == (36_000.0, 5.3)
    assert template("- **Training Time:** ~3 hours\n- **GPU:** NVIDIA A10G\n") == []


def test_template_inside_an_unclosed_code_fence_is_read():
    card = ("## Training\n\n```python\ntrainer.train()\n\n## Environmental Impact\n\n"
            "- **Hardware Type:** NVIDIA A100-SXM4-40GB\n- **Carbon Emitted:** 6.66 kg CO2 eq.\n")
    record, = template(card)
    assert (record["gpu_raw"], record["co2_kg"]) == ("NVIDIA A100-SXM4-40GB", 6.66)


def test_front_matter_problems():
    assert split_front_matter("# no metadata")[2][0].kind == "no_front_matter"
    metadata, body, problems = split_front_matter("---\ntags: [a\n---\nbody text\n")
    assert (metadata, body.strip(), [p.kind for p in problems]) == ({}, "body text", ["broken_yaml"])
    metadata, body, problems = split_front_matter("---\nlicense: mit\n---\n# Card\n")
    assert metadata == {"license": "mit"} and problems == [] and body.strip() == "# Card"


def test_extract_card_combines_every_rule():
    card = ("---\nco2_eq_emissions: 17g\n---\n" + TEMPLATE +
            "\nIn inference it draws 200 W on an RTX 4090.\n\n| Model | Power (W) |\n|---|---|\n| x | 90 |\n")
    extraction = extract_card(card)
    assert [r["extractor"] for r in extraction.records] == [
        "card_yaml.co2_eq_emissions", "prose", "card_table.markdown", "card_template.environmental_impact"]
    assert [r["extractor"] for r in extract_card(card, with_metadata=False).records][0] == "prose"


def test_body_restating_the_front_matter_is_one_record():
    card = ("---\nco2_eq_emissions:\n  emissions: 196.7083\n  energy_consumed: 0.5060646\n"
            "  source: codecarbon\n  hours_used: 3.163\n  hardware_used: 1 x NVIDIA GeForce RTX 3090\n---\n"
            "### Environmental Impact\n- **Energy Consumed**: 0.506 kWh\n- **Carbon Emitted**: 0.197 kg of CO2\n"
            "- **Hours Used**: 3.163 hours\n")
    extraction = extract_card(card)
    record, = extraction.records
    # 0.5060646 kWh x 3.6e6 = 1,821,832.56 J; 3.163 h x 3600 = 11,386.8 s.
    assert record["energy_j"] == pytest.approx(1_821_832.56) and record["scope"] == "gpu+cpu+ram"
    assert (record["gpu_hours"], record["duration_s"]) == (3.163, pytest.approx(11_386.8))
    assert extraction.skipped["repeat"] == 1


def test_front_matter_and_body_that_disagree_are_two_records():
    card = ("---\nco2_eq_emissions:\n  emissions: 7540\n---\n"
            "- **Hours used:** 72\n- **Carbon Emitted:** 30.16 kg CO2 eq.\n")
    assert sorted(r["co2_kg"] for r in extract_card(card).records) == [7.54, 30.16]


def test_binary_card_is_refused():
    with pytest.raises(DataFileError) as error:
        decode_card(b"\x89PNG\r\n\x00\x00")
    assert error.value.kind == "binary_card"
    assert decode_card("é".encode()) == "é"


@pytest.mark.parametrize("entry, listing, reason", [
    ({"cardData": {"co2_eq_emissions": 5}}, "filter", "carbon_metadata"),
    ({"tags": ["energy-efficiency"]}, "filter", "energy_tag"),
    ({"siblings": [{"rfilename": "logs/emissions.csv"}]}, "filter", "energy_file"),
    ({"tags": ["llama"]}, "search", "search_hit"),
    ({"tags": ["llama"]}, "filter", None),
])
def test_candidate_reason(entry, listing, reason):
    assert candidate_reason(entry, listing) == reason


def test_template_pasted_without_bullets():
    text = ("Environmental Impact\nHardware Type: A100 GPU\n\nHours used: ~6 hours\n\nCloud Provider: AWS\n\n"
            "Carbon Emitted: Estimated 2.3 kg CO₂eq\n")
    record, = template(text)
    assert (record["gpu_raw"], record["gpu_hours"], record["co2_kg"]) == ("A100 GPU", 6.0, 2.3)
    assert "estimated" in record["flags"]


@pytest.mark.parametrize("hours_used, hours", [
    ("14 days", 336.0), ("3 hours and 26 minutes", 3 + 26 / 60), ("72 (3 days)", 72.0), ("~10 hours", 10.0),
    ("90 mins", 1.5),
])
def test_template_hours_in_other_units(hours_used, hours):
    record, = template(f"- **Hardware Type:** 4 x A100\n- **Hours used:** {hours_used}\n")
    assert record["gpu_hours"] == pytest.approx(hours)


def test_training_time_on_one_named_gpu_is_gpu_hours():
    record, = template("- **GPU:** 1 NVIDIA A100-SXM4-80GB\n- **Training time**: ~ 27 hours\n")
    # 27 h on one GPU = 27 GPU-hours; 27 x 3600 = 97,200 s.
    assert (record["gpu_hours"], record["duration_s"]) == (27.0, 97_200.0)
    assert template("- **GPU:** 8 NVIDIA A100-SXM4-80GB\n- **Training time**: ~ 27 hours\n") == []


def test_pounds_of_carbon():
    record, = template("- **Carbon Emitted:** 2.6 pounds of CO2 equivalent\n")
    assert record["co2_kg"] == pytest.approx(2.6 * 0.45359237)


def test_a_template_number_too_large_to_be_finite_is_missing():
    record, = template("- **Hours used:** " + "9" * 400 + "\n- **Carbon Emitted:** 0.5 kg CO2eq\n")
    assert (record.get("gpu_hours"), record["co2_kg"]) == (None, 0.5)


def test_simple_front_matter_is_read_as_pyyaml_reads_it():
    import yaml

    from crawler.extract.model_cards import _NotSimple, _simple_front_matter
    simple = ("license: llama2\nlanguage: [en, fr]\ninference: false\nlibrary_name:\nco2_eq_emissions:\n"
              "  emissions: 24700\n  ratio: 0.5\n  source: ON\n  hardware_used: 8 x A100-80GB\n"
              "tags:\n- a b\n- 1e5\n# a comment\nyear: 2023\n")
    expected = {"license": "llama2", "language": ["en", "fr"], "inference": False, "library_name": None,
                "co2_eq_emissions": {"emissions": 24700, "ratio": 0.5, "source": True,
                                     "hardware_used": "8 x A100-80GB"},
                "tags": ["a b", "1e5"], "year": 2023}
    assert _simple_front_matter(simple) == expected == yaml.safe_load(simple)
    # Beyond the simple YAML (octal, a date, quotes, a comment after a value, a multi-line value,
    # a key PyYAML makes a bool): left to PyYAML, whose reading split_front_matter keeps.
    for text in ("a: 012", "a: 2023-01-01", "a: 'x'", "a: x # note", "a: x\n  y", "yes: 1", "a: 1_000"):
        with pytest.raises(_NotSimple):
            _simple_front_matter(text)
        assert split_front_matter(f"---\n{text}\n---\n")[0] == yaml.safe_load(text)


@pytest.mark.parametrize("sentence, count", [("It ran on ſix GPUs.", 6), ("a ſingle GPU was used", 1),
                                             ("on SİX GPUs", 6)])
def test_a_gpu_count_word_written_with_letters_that_fold_is_read(sentence, count):
    """The count pattern matches case-blind ("ſix" is "six" to it): the word is looked up as the
    ASCII word it was matched as (this raised ValueError before)."""
    assert gpu_count(sentence) == count

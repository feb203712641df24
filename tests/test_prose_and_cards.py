import pytest

from crawler.extract.datafiles import DataFileError
from crawler.extract.gpus import find_gpus
from crawler.extract.model_cards import (co2_eq_emissions_records, decode_card, extract_card,
                                         split_front_matter, template_records)
from crawler.extract.prose import batch_size, prose_records, sentences, strip_code
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
            ("extractor", "locator", "excerpt")}


def test_prose_sentence_with_full_context():
    record, = prose_records("During inference it draws about 300 W per GPU on an H100 PCIe at "
                            "batch size 8 (measured with nvidia-smi).")
    assert simple(record) == {"power_w": "about 300 W", "gpu_raw": "H100 PCIe", "batch_size": 8,
                              "workload": "inference", "method": "nvidia-smi", "scope": "gpu",
                              "power_kind": "measured"}


def test_prose_energy_per_token():
    record, = prose_records("0.4 J per token on A100.")
    assert simple(record) == {"energy_per_token_j": "0.4 J per token", "gpu_raw": "A100",
                              "workload": "unknown"}


def test_prose_context_from_the_sentence_before_only_when_needed():
    text = ("We ran Llama-2-7b inference on one NVIDIA H100 PCIe with Zeus, where the GPU idles at 48 W. "
            "At batch size 16 it averaged ~285 W steady-state and peaked at 342 W. "
            "An RTX 4090 drew 400 W.")
    idle, steady, peak, other = prose_records(text)
    assert (idle["phase"], idle["power_w"], idle["batch_size"]) == ("idle", "48 W", None)
    assert (steady["phase"], steady["power_kind"], steady["gpu_raw"], steady["batch_size"],
            steady["method"]) == ("steady", "measured", "NVIDIA H100 PCIe", 16, "zeus")
    assert (peak["phase"], peak["power_kind"], peak["power_w"]) == ("peak", "peak", "342 W")
    # The last sentence names its own GPU: no batch, method or workload carried into it.
    assert (other["gpu_raw"], other["batch_size"], other["method"], other["workload"]) == (
        "RTX 4090", None, None, "unknown")
    assert steady["excerpt"].startswith("We ran") and other["excerpt"] == "An RTX 4090 drew 400 W."


def test_prose_tdp_is_rated_and_server_is_system_level():
    rated, = prose_records("The H100 SXM has a TDP of 700W.")
    assert (rated["power_kind"], rated["flags"]) == ("rated", ["rated_not_measured"])
    system, = prose_records("Our server on an RTX 4090 draws 600 W at the wall.")
    assert (system["scope"], system["flags"]) == ("system", ["system_level"])


def test_figures_in_code_are_not_statements():
    text = "Settings:\n\n```python\npower_limit = 350  # W\nprint('250 W')\n```\n\nUse `--cap 300W`."
    assert prose_records(text) == []
    assert "350" not in strip_code(text)


def test_sentence_split_and_batch_size():
    assert sentences("One at 3 W. Two at 4 W.\n\n- a list item at 5 W") == [
        "One at 3 W.", "Two at 4 W.", "- a list item at 5 W"]
    assert [batch_size(t) for t in ("batch size of 32", "bs=4", "batch 8", "8 prompts per batch", "no")] == [
        32, 4, 8, 8, None]


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


def test_template_bullets():
    record, = template_records(TEMPLATE)
    assert (record["gpu_raw"], record["gpu_hours"], record["co2_kg"]) == ("1 x NVIDIA T4", 3.5, 0.25)
    assert "Google Cloud Platform" in record["notes"] and "Compute Region" not in record["notes"]


def test_unfilled_template_gives_nothing():
    unfilled = TEMPLATE.replace("3.5", "[More Information Needed]").replace(
        "0.25 kg CO2eq", "[More Information Needed]")
    assert template_records(unfilled) == []


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
        "card_yaml.co2_eq_emissions", "card_table.markdown", "prose", "card_template.environmental_impact"]
    assert [r["extractor"] for r in extract_card(card, with_metadata=False).records][0] == "card_table.markdown"


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

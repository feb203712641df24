import pytest

from crawler.extract.gpus import normalise_gpu, spec_for, taxonomy


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
])
def test_raw_names_normalise(raw, canonical, count):
    match = normalise_gpu(raw)
    assert (match.canonical, match.count) == (canonical, count)
    assert match.raw == raw


@pytest.mark.parametrize("raw", ["Apple M1 Pro", "Tesla X900", "CPU", "A1"])
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
        assert spec.power_ceiling_w and (spec.tdp_w is None or spec.tdp_w <= spec.power_ceiling_w)

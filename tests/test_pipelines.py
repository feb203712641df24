"""Each pipeline on its own, built from a crawler with the project settings."""

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from crawler.items import MEASUREMENT_FIELDS, Measurement
from crawler.pipelines.deduplicate import DeduplicatePipeline
from crawler.pipelines.flag_implausible import FlagImplausiblePipeline
from crawler.pipelines.normalise import NormalisePipeline
from crawler.pipelines.require_evidence import RequireEvidencePipeline
from crawler.pipelines.stable_id import StableIdPipeline, measurement_id
from crawler.pipelines.validate_schema import ValidateSchemaPipeline
from tests.conftest import assert_valid_record


@pytest.fixture
def crawler():
    crawler = get_crawler()
    crawler.stats.open_spider()
    return crawler


def build(pipeline_class, crawler):
    return pipeline_class.from_crawler(crawler) if hasattr(pipeline_class, "from_crawler") else pipeline_class()


def evidence(**fields):
    defaults = {"source": "hub_datasets", "url": "https://huggingface.co/datasets/a/b",
                "excerpt": "a row", "extractor": "table.generic"}
    return Measurement(**{**defaults, **fields})


def run_all(crawler, item):
    for pipeline_class in (RequireEvidencePipeline, NormalisePipeline, FlagImplausiblePipeline,
                           StableIdPipeline, DeduplicatePipeline, ValidateSchemaPipeline):
        item = build(pipeline_class, crawler).process_item(item)
    return dict(item)


def test_measurement_refuses_unknown_fields():
    with pytest.raises(KeyError):
        Measurement(wattage=3)


@pytest.mark.parametrize("missing", ["url", "excerpt", "extractor"])
def test_record_without_evidence_is_refused_and_counted(crawler, missing):
    item = evidence()
    item[missing] = "  "
    with pytest.raises(DropItem):
        build(RequireEvidencePipeline, crawler).process_item(item)
    assert crawler.stats.get_value(f"measurement/dropped/missing_{missing}") == 1


def test_normalise_fills_every_field_and_reads_figures_as_written(crawler):
    item = build(NormalisePipeline, crawler).process_item(
        evidence(power_w="~300 W", energy_j="0.42 kWh", gpu_raw="NVIDIA H100 PCIe",
                 model_name="Llama-2-7b-hf", batch_size="8"))
    assert set(item.keys()) == set(MEASUREMENT_FIELDS)
    assert item["power_w"] == 300.0 and item["energy_j"] == pytest.approx(1_512_000.0)
    assert "approximate" in item["notes"]
    assert (item["gpu"], item["gpu_tdp_w"], item["model_params_b"], item["batch_size"]) == (
        "H100 PCIe", 350.0, 7.0, 8)
    assert item["workload"] == "unknown" and item["flags"] == []
    assert item["retrieved_at"].endswith("Z")


def test_normalise_range_keeps_both_ends_in_bounds_and_flags_the_midpoint(crawler):
    item = build(NormalisePipeline, crawler).process_item(evidence(power_w="350-400W", energy_j="2 kJ"))
    assert item["power_w"] == 375.0
    assert item["bounds"] == {"power_w": [350.0, 400.0]}
    assert item["flags"] == ["range_midpoint"]
    assert "350–400 W" in item["notes"]


def test_normalise_counts_gpu_from_raw_name(crawler):
    item = build(NormalisePipeline, crawler).process_item(
        evidence(power_w=250.0, gpu_raw="384 A100 80GB GPUs"))
    assert (item["gpu"], item["gpu_count"], item["gpu_tdp_w"]) == ("A100", 384, None)
    assert "form factor not stated" in item["notes"]


def test_unknown_gpu_is_kept_raw_and_counted(crawler):
    item = build(NormalisePipeline, crawler).process_item(evidence(power_w=10.0, gpu_raw="Apple M1 Pro"))
    assert item["gpu"] is None and item["gpu_raw"] == "Apple M1 Pro"
    assert crawler.stats.get_value("gpu/unknown") == 1


def test_unreadable_figure_is_nulled_and_junk_record_dropped(crawler):
    pipeline = build(NormalisePipeline, crawler)
    item = pipeline.process_item(evidence(power_w="lots", energy_per_token_j=0.4))
    assert item["power_w"] is None and item["energy_per_token_j"] == 0.4
    with pytest.raises(DropItem):
        pipeline.process_item(evidence(power_w="lots"))
    assert crawler.stats.get_value("measurement/unparseable/power_w") == 2
    assert crawler.stats.get_value("measurement/dropped/unparseable") == 1


def test_power_above_tdp_is_flagged_not_dropped(crawler):
    record = run_all(crawler, evidence(power_w=95.0, gpu_raw="NVIDIA L4"))  # L4 TDP 72 W
    assert record["power_w"] == 95.0 and record["flags"] == ["exceeds_tdp"]
    assert crawler.stats.get_value("measurement/flag/exceeds_tdp") == 1


def test_above_tdp_check_uses_the_highest_variant_when_form_factor_unknown(crawler):
    # "H100" could be an SXM (700 W): 500 W is possible; 750 W is not.
    assert run_all(crawler, evidence(power_w=500.0, gpu_raw="H100-80GB"))["flags"] == []
    assert run_all(crawler, evidence(power_w=750.0, gpu_raw="H100-80GB",
                                     excerpt="another row"))["flags"] == ["exceeds_tdp"]


def test_rated_and_system_power_are_not_held_to_the_gpu_tdp(crawler):
    assert run_all(crawler, evidence(power_w=1200.0, gpu_raw="H100 PCIe", scope="system"))["flags"] == []


def test_zero_means_not_measured(crawler):
    record = run_all(crawler, evidence(power_w=0.0, energy_j=0.0, duration_s=600.0, gpu_raw="T4"))
    assert record["power_w"] is None and record["energy_j"] is None
    assert record["flags"] == ["zero_not_measured"]
    assert "reported as 0" in record["notes"]


def test_negative_energy_is_flagged(crawler):
    record = run_all(crawler, evidence(energy_j=-5.0))
    assert record["energy_j"] == -5.0 and record["flags"] == ["non_positive_energy"]


@pytest.mark.parametrize(("fields", "flag"), [
    ({"power_w": 15_000.0}, "implausible_power_w"),  # one unknown GPU: no TDP to hold it to
    ({"power_w": 250_000.0, "scope": "system"}, "implausible_power_w"),
    ({"energy_per_token_j": 5_000_000.0}, "implausible_energy_per_token_j"),
    ({"energy_per_token_j": 3.6e306}, "implausible_energy_per_token_j"),  # 1e-300 tokens/kWh inverted
    ({"energy_per_token_j": 1e-9}, "implausible_energy_per_token_j"),
    ({"energy_per_query_j": 2e7}, "implausible_energy_per_query_j"),
    ({"gpu_hours": 5e9}, "implausible_gpu_hours"),
])
def test_figures_no_workload_reaches_are_flagged_whatever_the_gpu(crawler, fields, flag):
    record = run_all(crawler, evidence(gpu_raw="Mystery Accelerator 9000", **fields))
    assert flag in record["flags"] and record[next(iter(fields))] == fields[next(iter(fields))]
    assert crawler.stats.get_value(f"measurement/flag/{flag}") == 1


def test_plausible_figures_carry_no_implausible_flag(crawler):
    record = run_all(crawler, evidence(gpu_raw="H100 PCIe", power_w=1800.0, energy_per_token_j=0.3,
                                       energy_per_query_j=500.0, gpu_hours=30_840_000.0))
    assert not [flag for flag in record["flags"] if flag.startswith("implausible")]


def test_negative_power_keeps_its_sign_and_is_flagged(crawler):
    record = run_all(crawler, evidence(power_w=-300.0))
    assert record["power_w"] == -300.0 and record["flags"] == ["non_positive_power"]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_figures_never_reach_a_record(crawler, value):
    record = run_all(crawler, evidence(power_w=value, energy_per_token_j=0.5, gpu_count=value))
    assert record["power_w"] is None and record["gpu_count"] is None
    assert record["flags"] == ["non_finite_dropped"]
    assert crawler.stats.get_value("measurement/non_finite/power_w") == 1
    assert crawler.stats.get_value("measurement/non_finite/gpu_count") == 1


def test_a_lone_surrogate_becomes_a_replacement_character(crawler):
    record = run_all(crawler, evidence(power_w=300.0, excerpt="draws 300 W \ud83d", notes="fire \ud83d!"))
    assert record["excerpt"] == "draws 300 W \ufffd" and record["notes"] == "fire \ufffd!"
    record["excerpt"].encode("utf-8")  # what the feed exporter does


def test_flags_from_extractors_are_counted_too(crawler):
    run_all(crawler, evidence(power_w=50.0, flags=["derived"]))
    assert crawler.stats.get_value("measurement/flag/derived") == 1


def test_stable_id_depends_on_source_document_and_figure_only(crawler):
    first = run_all(crawler, evidence(power_w=10.0, locator="f.csv#row=1"))
    again = run_all(get_crawler(), evidence(power_w=11.0, locator="f.csv#row=1", excerpt="changed"))
    other = run_all(get_crawler(), evidence(power_w=10.0, locator="f.csv#row=2"))
    assert first["id"] == again["id"] != other["id"]
    assert first["id"] == measurement_id("hub_datasets", "https://huggingface.co/datasets/a/b",
                                         "table.generic", "f.csv#row=1")


def test_duplicates_within_a_crawl_are_dropped_and_counted(crawler):
    pipeline = build(DeduplicatePipeline, crawler)
    pipeline.process_item(Measurement(id="a"))
    with pytest.raises(DropItem):
        pipeline.process_item(Measurement(id="a"))
    assert crawler.stats.get_value("measurement/duplicate") == 1


def test_schema_invalid_record_is_dropped_and_counted(crawler):
    item = dict(run_all(crawler, evidence(power_w=10.0)))
    assert_valid_record(item)
    item["workload"] = "gaming"
    with pytest.raises(DropItem, match="workload"):
        build(ValidateSchemaPipeline, crawler).process_item(Measurement(**item))
    assert crawler.stats.get_value("measurement/invalid/workload") == 1


def test_other_items_pass_the_measurement_pipelines_untouched(crawler):
    from crawler.items import Discussion

    discussion = Discussion(title="x")
    for pipeline_class in (RequireEvidencePipeline, NormalisePipeline, FlagImplausiblePipeline,
                           StableIdPipeline, DeduplicatePipeline):
        assert build(pipeline_class, crawler).process_item(discussion) == {"title": "x"}
    with pytest.raises(DropItem, match="discussion does not match"):
        build(ValidateSchemaPipeline, crawler).process_item(discussion)


# Values that one validator or the other might read differently: tuples (an array to jsonschema_rs
# only), NaN and infinities (numbers to jsonschema), a newline before the end of a pattern's "$",
# dates that are no RFC 3339 date-time, bools among numbers, numbers past 64 bits, lone surrogates,
# values of types that are no JSON at all.
ODD_VALUES = [None, True, 0, 1, -1, 2.0, 10**30, float("nan"), float("inf"), "", "x", "x\n", "\udc80",
              "gpu", "2026-13-45T99:00:00Z", "2026-01-01T00:00:00Z", "https://x\n", "a" * 501, "0" * 20,
              "0" * 20 + "\n", [], ["x"], ["x", "x"], ["X"], ["x\n"], ("x",), (), [1.0, 2.0], (1.0, 2.0),
              {}, {"power_w": [1.0, 2.0]}, {"power_w": (1.0, 2.0)}, {"power_w": [1.0]}, {"gpu": [1.0, 2.0]},
              {"interval_s": None, "readings_w": [1.0]}, {"interval_s": 0, "readings_w": [1.0]},
              {"interval_s": 1.0, "readings_w": (1.0,)}, {1, 2}, b"x", object()]


def test_the_fast_schema_check_judges_every_record_as_jsonschema_does(crawler):
    """A record jsonschema_rs lets through must be one jsonschema lets through: whatever it turns
    down goes to jsonschema, so the pipeline's verdicts and error counts are jsonschema's."""
    from hypothesis import given, settings, strategies

    from crawler.items import measurement_schema
    from crawler.pipelines.validate_schema import SchemaCheck, schema_validator

    valid = dict(run_all(crawler, evidence(power_w=10.0, bounds={"power_w": [9.0, 11.0]})))
    check, reference = SchemaCheck(measurement_schema()), schema_validator(measurement_schema())

    @settings(max_examples=400, deadline=None, database=None)
    @given(strategies.dictionaries(strategies.sampled_from(MEASUREMENT_FIELDS), strategies.sampled_from(ODD_VALUES),
                                   max_size=4))
    def agree(changes):
        record = {**valid, **changes}
        expected = sorted(reference.iter_errors(record), key=lambda e: list(e.path))
        assert [(list(e.path), e.message) for e in check.errors(record)] == [(list(e.path), e.message) for e in expected]

    agree()
    assert check.errors(valid) == []


@pytest.mark.parametrize("field, value", [("flags", ("range_midpoint",)), ("bounds", {"power_w": (300.0, 400.0)})])
def test_a_record_holding_a_tuple_is_judged_by_jsonschema(crawler, field, value):
    item = dict(run_all(crawler, evidence(power_w=10.0)))
    item[field] = value  # an array to jsonschema_rs, not to jsonschema, at the top or inside an object
    with pytest.raises(DropItem, match=field):
        build(ValidateSchemaPipeline, crawler).process_item(Measurement(**item))


def test_a_valid_record_costs_no_jsonschema_run(crawler):
    class Refusing:
        def iter_errors(self, record):
            pytest.fail("jsonschema ran on a valid record")

    item = run_all(crawler, evidence(power_w=10.0))
    pipeline = build(ValidateSchemaPipeline, crawler)
    pipeline.checks[Measurement][1].full = Refusing()
    assert pipeline.process_item(Measurement(**item)) == item
    assert crawler.stats.get_value("measurement/valid") == 2  # run_all's and this one

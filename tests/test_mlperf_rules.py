"""MLPerf power result files -> figures (crawler/extract/mlperf.py), on strings written here.

Every expected figure is worked out by hand in the comment beside it.
"""

import json
from datetime import datetime, timedelta

import pytest

from crawler.extract.mlperf import (MLPerfInputError, ResultFiles, SystemDescription, count_value, idle_level,
                                    parse_detail_log, parse_spl, parse_summary, parse_system, plotted_trace,
                                    result_records, window_power)

START = datetime(2024, 5, 6, 10, 0, 0, 250000)


def spl(watts, start=START):
    return "".join(f"Time,{(start + timedelta(seconds=i)).strftime('%m-%d-%Y %H:%M:%S.%f')[:-3]},Watts,{w},"
                   f"Volts,230.1,Amps,1.0,PF,0.99,Mark,test\n" for i, w in enumerate(watts))


def detail(begin_s, end_s, scenario="Offline", queries=1, start=START):
    def line(key, value):
        return ":::MLLOG " + json.dumps({"key": key, "value": value, "time_ms": 1.0, "namespace": "mlperf::logging",
                                         "event_type": "POINT_IN_TIME", "metadata": {"is_error": False}}) + "\n"
    moment = "%m-%d-%Y %H:%M:%S.%f"
    return (line("effective_scenario", scenario) + line("warning_generic_message", "power_begin is mentioned here")
            + line("power_begin", (start + timedelta(seconds=begin_s)).strftime(moment)[:-3])
            + line("power_end", (start + timedelta(seconds=end_s)).strftime(moment)[:-3])
            + line("result_query_count", queries))


def summary(scenario, *lines):
    return ("================================================\nMLPerf Results Summary\n"
            f"================================================\nSUT name : T\nScenario : {scenario}\n"
            "Mode     : PerformanceOnly\n" + "".join(line + "\n" for line in lines) + "Result is : VALID\n")


def test_summary_rates_and_scenarios():
    offline = parse_summary(summary("Offline", "Samples per second: 39646.9"))
    assert (offline.scenario, offline.samples_per_s, offline.tokens_per_s, offline.valid) == ("Offline", 39646.9, None, True)
    # Server: the completed rate (what the system did), not the scheduled one (the load offered).
    server = parse_summary(summary("server", "Scheduled samples per second : 33011.50",
                                   "Completed samples per second    : 33008.95"))
    assert (server.scenario, server.samples_per_s) == ("Server", 33008.95)
    llm = parse_summary(summary("Offline", "Samples per second: 479.775", "Tokens per second: 68781.4"))
    assert (llm.samples_per_s, llm.tokens_per_s) == (479.775, 68781.4)
    with pytest.raises(MLPerfInputError) as raised:
        parse_summary("MLPerf Results Summary\nnothing else\n")
    assert raised.value.kind == "malformed_summary"


def test_detail_log_window_and_queries():
    log = parse_detail_log(detail(1.5, 5.5, "SingleStream", 3200))
    assert log.power_begin == datetime(2024, 5, 6, 10, 0, 1, 750000)
    assert log.power_end == datetime(2024, 5, 6, 10, 0, 5, 750000)
    assert (log.scenario, log.query_count) == ("SingleStream", 3200)
    for broken in ("", detail(5.0, 1.0), detail(1.0, 2.0).replace('"value": "05-06', '"value": "2024-05')):
        with pytest.raises(MLPerfInputError) as raised:
            parse_detail_log(broken)
        assert raised.value.kind == "malformed_detail_log"


def test_the_window_is_averaged_not_the_file():
    # Readings 1 s apart from 10:00:00.250; the run from +2.5 s to +7.5 s holds readings 3..7:
    # 300 + 310 + 0 + 320 + 330: the 0 W reading is left out (W > 0), so (300+310+320+330)/4 = 315.0.
    # The whole file's mean would be (100+100+200+300+310+0+320+330+150+100)/10 = 191.0.
    watts = [100, 100, 200, 300, 310, 0, 320, 330, 150, 100]
    window = window_power(parse_spl(spl(watts)), parse_detail_log(detail(2.5, 7.5)))
    assert window.mean_w == 315.0 and sum(watts) / len(watts) == 191.0
    assert (window.readings, window.peak_w, window.duration_s, window.interval_s) == (4, 330, 5.0, 1.0)
    # Before the run (at or before +2.5 s): 100, 100, 200; the quietest quarter, rounded up, is one
    # reading: 100.
    assert window.idle_w == 100.0


def test_readings_on_the_bounds_are_outside():
    # begin and end fall exactly on readings 2 and 5 (+2.0 and +5.0 s): only readings 3 and 4 count.
    window = window_power(parse_spl(spl([50, 50, 999, 200, 400, 999, 50])), parse_detail_log(detail(2.0, 5.0)))
    assert (window.mean_w, window.readings) == (300.0, 2)


def test_a_trace_that_stops_before_the_run_ends_gives_no_figure():
    text = spl([60, 62, 150, 160, 170])  # up to +4 s
    text = text + text.splitlines()[-1][:25]  # and a last line cut mid-way, as a copy that stopped
    trace = parse_spl(text)
    assert (len(trace.watts), trace.unreadable_lines) == (5, 1)
    with pytest.raises(MLPerfInputError) as raised:
        window_power(trace, parse_detail_log(detail(1.5, 9.5)))
    assert raised.value.kind == "truncated_trace"
    with pytest.raises(MLPerfInputError) as raised:
        parse_spl("Watts are not here\n")
    assert raised.value.kind == "malformed_trace"


def test_idle_level_is_the_median_of_the_quietest_quarter():
    # 9 readings: a quarter rounded up is 3; the quietest three are 790, 800, 805 -> median 800.
    assert idle_level([800, 810, 790, 805, 1500, 2000, 1076, 1080, 1100]) == 800
    # 8 readings: two quietest, 790 and 800 -> mean of the middle pair 795.0.
    assert idle_level([800, 810, 790, 805, 1500, 2000, 1076, 1080]) == 795.0
    assert idle_level([]) is None


def test_long_traces_are_plotted_as_block_means():
    # 1,300 readings at 1 s, at most 600 points: blocks of ceil(1300/600) = 3 readings, 434 points
    # (the last block holds one reading), each point 3 s long.
    watts = [100.0, 200.0, 300.0] * 433 + [700.0]
    trace = parse_spl(spl(watts))
    log = parse_detail_log(detail(10.0, 1200.0))
    plotted = plotted_trace(trace, log, 1.0)
    assert (plotted["interval_s"], len(plotted["readings_w"])) == (3.0, 434)
    assert plotted["readings_w"][0] == 200.0 and plotted["readings_w"][-1] == 700.0
    assert plotted["load_window_s"] == [10.0, 1200.0]


def test_system_counts_may_be_strings():
    assert [count_value(v) for v in (8, "8", " 4 ", "2.0", "", "N/A", None, 0, True, 1.5)] == [
        8, 8, 4, 2, None, None, None, None, None, None]
    system = parse_system({"accelerator_model_name": "NVIDIA H100-PCIe-80GB", "accelerators_per_node": "4",
                           "number_of_nodes": "2", "system_name": "Two nodes"})
    assert (system.accelerator, system.accelerators) == ("NVIDIA H100-PCIe-80GB", 8)  # 4 a node x 2 nodes
    assert parse_system({"accelerator_model_name": "N/A", "accelerators_per_node": 0}).accelerator is None
    with pytest.raises(MLPerfInputError):
        parse_system(["not", "an", "object"])


def files(scenario, summary_text, detail_text, spl_text, benchmark="resnet50"):
    return ResultFiles(locator=f"v4.0/closed/T/sys/{benchmark}/{scenario}", benchmark=benchmark,
                       scenario_folder=scenario, summary=summary_text, detail_log=detail_text, spl=spl_text)


def test_single_stream_energy_per_query_and_the_labelled_estimate():
    # Run from +1.5 s to +5.5 s: readings 2..5, (150+160+170+160)/4 = 160.0 W; 160 W x 4 s / 3200
    # queries = 0.2 J a query. The system holds 2 accelerators: the estimate is 160 / 2 = 80.0 W.
    records = result_records(
        files("SingleStream", summary("SingleStream", "90th percentile latency (ns) : 1250000"),
              detail(1.5, 5.5, "SingleStream", 3200), spl([60, 62, 150, 160, 170, 160, 70, 65])),
        SystemDescription("T", "NVIDIA L4", 2))
    by_rule = {record["extractor"]: record for record in records}
    window = by_rule["mlperf.power_window"]
    assert (window["power_w"], window["energy_per_query_j"], window["energy_j"], window["duration_s"]) == (
        160.0, 0.2, 640.0, 4.0)
    assert (window["scope"], window["method"], window["gpu_count"], window["phase"]) == (
        "system", "external-meter", 2, "steady")
    assert "PTDaemon" in window["notes"] and window["trace"]["readings_w"][0] == 60
    assert (by_rule["mlperf.peak"]["power_w"], by_rule["mlperf.idle"]["power_w"]) == (170, 60.0)
    estimate = by_rule["mlperf.per_accelerator_estimate"]
    assert (estimate["power_w"], estimate["power_kind"], estimate["gpu_count"]) == (80.0, "estimated", 1)
    assert "per_gpu_from_total" in estimate["flags"] and estimate["notes"].startswith("ESTIMATE")


def test_offline_llm_energy_per_token_and_sample():
    # Run from +0.5 s to +3.5 s: readings 1..3, (6000+6600+6300)/3 = 6300.0 W; 6300 / 2100 tokens/s
    # = 3.0 J a token; 6300 / 15 samples/s = 420.0 J a sample.
    records = result_records(
        files("Offline", summary("Offline", "Samples per second: 15", "Tokens per second: 2100"),
              detail(0.5, 3.5), spl([900, 6000, 6600, 6300, 900]), benchmark="llama2-70b-99"),
        SystemDescription("T", "NVIDIA H100-SXM-80GB", None))
    window = records[0]
    assert (window["power_w"], window["energy_per_token_j"], window["energy_per_query_j"]) == (6300.0, 3.0, 420.0)
    assert (window["throughput_tokens_per_s"], window["task"], window["model_name"]) == (
        2100.0, "text_generation", "llama2-70b-99")
    # No accelerator count: no per-accelerator estimate.
    assert [r["extractor"] for r in records] == ["mlperf.power_window", "mlperf.peak", "mlperf.idle"]


def test_no_reading_above_zero_in_the_run_gives_no_figure():
    with pytest.raises(MLPerfInputError) as raised:
        window_power(parse_spl(spl([100, 0, -1, 0, 100])), parse_detail_log(detail(0.5, 3.5)))
    assert raised.value.kind == "no_readings_in_window"


def test_an_invalid_result_is_flagged_not_dropped():
    records = result_records(
        files("Offline", summary("Offline", "Samples per second: 10").replace("Result is : VALID", "Result is : INVALID"),
              detail(0.5, 2.5), spl([50, 100, 300, 50])),
        SystemDescription("T", "NVIDIA L4", 1))
    # Readings 1 and 2 inside 0.5..2.5 s: (100 + 300) / 2 = 200.0 W.
    assert records[0]["power_w"] == 200.0
    assert all("result_invalid" in record["flags"] for record in records)

"""postprocess/traces.py: idle level, load level and rise of each trace, and their plot.

Expected figures worked out by hand in the comments.
"""

import pandas as pd
import pytest

from postprocess.traces import _plot_label, plot_traces, trace_views, transition

MLPERF_TRACE = {"interval_s": 1.0, "load_window_s": [5.4, 13.4], "readings_w": [
    800.0, 810.0, 790.0, 805.0, 1500.0, 2000.0, 2900.0, 3000.0, 3100.0, 3000.0, 2950.0, 3050.0, 3000.0,
    3000.0, 2000.0, 1200.0, 820.0, 800.0, 800.0, 800.0]}
DMON_TRACE = {"interval_s": 1.0, "readings_w": [55.0, 56.0, 142.0, 148.0]}


def frame(*traces, scopes=None):
    rows = []
    for index, trace in enumerate(traces):
        rows.append({"source": "mlperf_power" if scopes and scopes[index] == "system" else "github_issues",
                     "model_name": "bert-99" if index == 0 else "$x$ model", "gpu": "H100 PCIe", "gpu_raw": None,
                     "gpu_count": 8 if index == 0 else 1, "scope": scopes[index] if scopes else "gpu",
                     "url": f"https://example.org/{index}", "trace": trace})
    return pd.DataFrame(rows)


def test_a_trace_with_its_load_window():
    view, = trace_views(frame(MLPERF_TRACE, scopes=["system"]))
    assert view.label == "mlperf_power, bert-99, 8 x H100 PCIe, whole server"
    summary = transition(view)
    # Before 5.4 s: readings 0..5, sorted 790, 800, 805, 810, 1500, 2000; the quietest quarter
    # (2 readings): 790, 800 -> 795.0, the spider's idle record. Inside 5.4..13.4 s: readings 6..13,
    # mean 24000 / 8 = 3000.0; 3000 / 795 = 3.774. 90 % of the way: 795 + 0.9 x 2205 = 2779.5,
    # reached by reading 6 itself: 0 s after the start.
    assert (summary["idle_w"], summary["load_w"], summary["load_to_idle"], summary["rise_s"]) == (
        795.0, 3000.0, 3.774, 0.0)


def test_a_trace_without_a_window():
    view, = trace_views(frame(DMON_TRACE))
    summary = transition(view)
    # Quietest quarter (1 reading): 55; busiest: 148; ratio 148 / 55 = 2.691. Rise from the last
    # idle-level reading (0 s) to the first at 55 + 0.9 x 93 = 138.7 W or more (142 W at 2 s): 2.0 s.
    assert (summary["idle_w"], summary["load_w"], summary["load_to_idle"], summary["rise_s"]) == (55.0, 148.0, 2.691, 2.0)


def test_unusable_traces_are_left_out_and_labels_escaped_for_the_plot_only():
    views = trace_views(frame(None, {"interval_s": 1.0, "readings_w": []},
                              {"interval_s": 1.0, "readings_w": [1.0, float("nan")]},
                              {"interval_s": None, "readings_w": [5.0, 6.0]}))
    assert len(views) == 1 and views[0].interval_s is None
    # The label stays as written (tables, synthesis.json); only the plot escapes its "$".
    assert "$x$ model" in views[0].label and "\\$" not in views[0].label
    assert _plot_label(views[0].label).count("\\$") == 2
    assert transition(views[0])["rise_s"] is None  # two readings and no interval: nothing to time


def test_traces_of_one_model_and_system_are_told_apart_by_their_locator():
    same = frame(MLPERF_TRACE, MLPERF_TRACE, scopes=["system", "system"]).assign(
        model_name="bert-99", gpu_count=8, locator=["v3.1/closed/N/s/bert-99/Offline#window",
                                                    "v3.1/closed/N/s/bert-99/server#window"])
    assert sorted(view.label for view in trace_views(same)) == [
        "mlperf_power, bert-99, 8 x H100 PCIe, whole server (Offline)",
        "mlperf_power, bert-99, 8 x H100 PCIe, whole server (server)"]


def test_plot_draws_system_and_gpu_traces_apart():
    png = plot_traces(trace_views(frame(MLPERF_TRACE, DMON_TRACE, scopes=["system", "gpu"])))
    assert png is not None and png.startswith(b"\x89PNG")
    assert plot_traces([]) is None


@pytest.mark.parametrize("window", [[13.4, 5.4], [1, "x"], [1.0], True])
def test_a_broken_window_is_ignored(window):
    view, = trace_views(frame({**MLPERF_TRACE, "load_window_s": window}))
    assert view.load_window_s is None

import pytest

from crawler.extract.context import classify_method, classify_phase, classify_workload
from crawler.extract.models import params_from_count, params_from_name


@pytest.mark.parametrize("name, billions", [
    ("TinyLlama-1.1B-Chat-v1.0", 1.1),
    ("meta-llama/Llama-2-7b-hf", 7.0),
    ("facebook/opt-125m", 0.125),
    ("Qwen/Qwen2.5-72B-Instruct", 72.0),
    ("HuggingFaceTB/SmolLM-135M", 0.135),
    ("Qwen3-30B-A3B", 30.0),
    ("mistralai/Mixtral-8x7B-v0.1", None),  # the name does not give the total
    ("openai-community/gpt2-xl", None),
    (None, None),
])
def test_size_from_name(name, billions):
    assert params_from_name(name) == billions


@pytest.mark.parametrize("count, billions", [
    ("1.1B", 1.1), ("125M", 0.125), ("7B", 7.0), ("1.3T", 1300.0), (7_000_000_000, 7.0),
    ("n/a", None), ("", None), (None, None),
])
def test_size_from_count(count, billions):
    assert params_from_count(count) == billions


@pytest.mark.parametrize("text, workload", [
    ("fine-tuning Llama on 8 A100s", "fine-tuning"),
    ("pre-training energy of the 7B model", "training"),
    ("inference at batch size 8", "inference"),
    ("tokens/s while serving", "inference"),
    ("we trained it, then ran inference", "training"),  # the earliest cue wins
    ("a table of numbers", "unknown"),
    (None, "unknown"),
])
def test_workload(text, workload):
    assert classify_workload(text) == workload


@pytest.mark.parametrize("text, phase", [
    ("idle at 60W", "idle"),
    ("peaks at 340 W", "peak"),
    ("steady-state draw of 280 W", "steady"),
    ("prefill energy", "prefill"),
    ("decode phase", "decode"),
    ("draws 300 W", None),
])
def test_phase(text, phase):
    assert classify_phase(text) == phase


@pytest.mark.parametrize("text, method", [
    ("measured with nvidia-smi", "nvidia-smi"),
    ("tracked by CodeCarbon", "codecarbon"),
    ("read through pynvml", "nvml"),
    ("NVML counters", "nvml"),
    ("Zeus monitor", "zeus"),
    ("a wall meter on the server", "external-meter"),
    ("estimated with the ML CO2 Impact calculator", "tdp-estimate"),
    ("300 W", None),
])
def test_method(text, method):
    assert classify_method(text) == method


def test_cue_pattern_finds_what_a_whole_text_search_finds():
    from crawler.extract.context import CuePattern
    cues = CuePattern([r"\bidle", r"(?:do|does) nothing", r"\bpeak(?:s|ed)?\b", r"standby"], capture=True)
    text = "it does nothing, then peaked; an unidle standby and idle again, peakspeak"
    assert [(m.span(), m.lastindex) for m in cues.finditer(text)] == \
        [(m.span(), m.lastindex) for m in cues.regex.finditer(text)] == \
        [((3, 15), 2), ((22, 28), 3), ((40, 47), 4), ((52, 56), 1)]
    # "unidle" holds the stem "idle" but no word boundary: tried there, not matched.
    assert cues.search("unidle, then standby").span() == (13, 20)
    assert cues.search("nothing to see") is None


def test_literal_stems_of_cue_patterns():
    from crawler.extract.context import literal_stems
    assert literal_stems(r"\bidle|standby|(?:do|does) nothing|\b0 ?%|tokens?/s|wall[- ]?meter") == {
        "idle", "standby", "do", "does", "0", "token", "wall"}
    assert literal_stems(r"idle|[xy]z") is None  # a class: no literal to test for first

import re

import pytest

from crawler.extract.context import (METHOD, PHASE, WORKLOAD, SentenceCues, classify_method, classify_phase,
                                     classify_workload)
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
    # Past 200 characters the stems are found with str.find instead of one scan: the same matches.
    long_text = text + " " + "x" * 200 + " does nothing"
    assert [(m.span(), m.lastindex) for m in cues.finditer(long_text)] == \
        [(m.span(), m.lastindex) for m in cues.regex.finditer(long_text)]
    assert cues.search("x" * 220 + " unidle, it does nothing").span() == (232, 244)


def test_literal_trie_matches_the_longest_word_where_one_stands():
    from crawler.extract.context import literal_trie
    assert literal_trie(["pdu", "psu", "psus"]) == "p(?:du|su(?:s)?)"
    words = ["power", "power suppl", "psu", "p", "out of"]
    trie = re.compile(literal_trie(words))
    assert [m[0] for m in trie.finditer("a power supply, psus, out of power, pout o")] == \
        ["power suppl", "psu", "out of", "power", "p"]
    assert trie.fullmatch("power sup") is None


def test_cue_scan_names_the_cue_lists_with_a_stem_in_a_text():
    """A list is named where one of its stems stands, also inside or across another list's stem
    ("power" of the cap cues in "power supply", "gpu" ending in "nvidia gpu"); the others are
    not, and searching them finds nothing."""
    from crawler.extract.context import CuePattern, CueScan
    cap = CuePattern([r"power[- ]?limit", r"\bcap(?:ped|s)?\b"])
    psu = CuePattern([r"\bpsus?\b", r"power suppl"])
    gpu = CuePattern([r"\bgpus?\b", r"nvidia"])
    scan = CueScan([cap, psu, gpu])
    assert scan.present("a 1500w power supply") == {cap, psu}
    assert scan.present("set a cap on the nvidia gpu") == {cap, gpu}
    assert scan.present("escapes") == {cap}  # a stem without its word boundary: the search decides
    assert cap.search("escapes") is None
    assert scan.present("300 w on the card") == set()
    assert all(pattern.search("300 w on the card") is None for pattern in (cap, psu, gpu))
    with pytest.raises(ValueError):
        CueScan([CuePattern([r"[xy]z"])])


def test_cue_patterns_match_as_their_whole_patterns_do():
    """Every cue list, on texts strung together from the literal words its cues start with (and
    what follows them in real text), short and long: CuePattern (a pattern per stem, tried where
    the stem stands) finds what the whole pattern finds."""
    import random

    from crawler.extract import context, figure_roles
    patterns = [getattr(figure_roles, name) for name in ("CAP", "PSU", "COMPONENT", "GPU", "SYSTEM", "ASSUMPTION",
                                                         "ESTIMATE", "HYPOTHETICAL", "RATED", "DELTA",
                                                         "OTHER_DEVICE", "ACCOUNTING")]
    patterns += [context._WORKLOAD_RES[0], context._PHASE_RES[0], context._METHOD_RES[0]]
    words = sorted({stem for cues in patterns for alternative in context._alternatives(cues.regex.pattern)
                    for stem in context.literal_stems(alternative.strip("()")) or ()})
    words += [" ", " ", "s", "ed", "-", " nothing", " calculating", " is running", " loaded", "ing", "x"]
    rng = random.Random(0)
    for cues in patterns:
        for _ in range(300):
            text = "".join(rng.choice(words) for _ in range(rng.randint(1, rng.choice([10, 60]))))
            assert [(m.span(), m.lastindex) for m in cues.finditer(text)] == \
                [(m.span(), m.lastindex) for m in cues.regex.finditer(text)], text
            found, expected = cues.search(text), cues.regex.search(text)
            assert (found and (found.span(), found.lastindex)) == (expected and (expected.span(), expected.lastindex)), text


def test_literal_stems_of_cue_patterns():
    from crawler.extract.context import literal_stems
    assert literal_stems(r"\bidle|standby|(?:do|does) nothing|\b0 ?%|tokens?/s|wall[- ]?meter") == {
        "idle", "standby", "do", "does", "0", "token", "wall"}
    assert literal_stems(r"idle|[xy]z") is None  # a class: no literal to test for first


@pytest.mark.parametrize("sentence, phase, workload, method", [
    # "prefill" and "decod" are stems of both the phase and the workload cues.
    ("during prefill the gpu drew 300 w, decoding drew 250 w", ("prefill", True), "inference", None),
    ("measured with nvidia-smi while idle", ("idle", True), None, "nvidia-smi"),
    ("fine-tuning with codecarbon at peak load", ("peak", True), "fine-tuning", "codecarbon"),
    ("300 w", (None, False), None, None),
    ("peaks2 of 300 w", (None, True), None, None),  # a phase stem, but no whole cue
    ("x" * 200 + " idle at 20 w", ("idle", True), None, None),  # a long text is searched per classifier
])
def test_sentence_cues_read_in_one_scan_give_each_classifier_s_label(sentence, phase, workload, method):
    cues = SentenceCues(sentence)
    assert cues.first(PHASE) == phase
    assert cues.first(WORKLOAD)[0] == workload
    assert cues.first(METHOD)[0] == method
    assert (classify_phase(sentence), classify_workload(sentence), classify_method(sentence)) == (
        phase[0], workload or "unknown", method)

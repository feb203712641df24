"""Figure roles and document context, on sentences in the shapes people write in posts and cards."""

import pytest

from crawler.extract.documents import document_records
from crawler.extract.figure_roles import figure_role
from crawler.extract.units import find_carbon, find_figures, find_gpu_hours


def role_of(sentence: str, written: str) -> str:
    """The role of the figure written as ``written`` in the sentence."""
    figures = find_figures(sentence)
    index = next(i for i, f in enumerate(figures) if f.written.strip() == written)
    return figure_role(sentence, figures[index].start, figures[index].end,
                       previous_end=figures[index - 1].end if index else 0,
                       next_start=figures[index + 1].start if index + 1 < len(figures) else None)


@pytest.mark.parametrize("sentence, written, role", [
    # GPU draw, plainly stated
    ("The card pulls about 300W while generating.", "about 300W", "measured"),
    ("The GPU draws 80–100W (out of a 160W power limit).", "80–100W", "measured"),
    # caps and limits
    ("The GPU draws 80–100W (out of a 160W power limit).", "160W", "cap"),
    ("nvidia-smi shows 286W / 350W during the run", "350W", "cap"),
    ("it sat at 250 W out of 700 W", "700 W", "cap"),
    ("I capped it at 250W with nvidia-smi -pl", "250W", "cap"),
    # power supplies and circuits
    ("I run it on a 1500W platinum PSU.", "1500W", "psu"),
    ("That is close to the 1800 W circuit limit of my outlet.", "1800 W", "psu"),
    # other components
    ("we read 180W for this CPU", "180W", "component"),
    ("RAM Power : 5.9 W", "5.9 W", "component"),
    ("The CPU package draws 95 W while the GPU draws 300 W.", "300 W", "measured"),
    # a guess given as the answer is kept as an estimate; assumptions, plans, expectations are not
    ("My rough guesses put it at about 2kw of consumption.", "about 2kw", "estimated"),
    ("I assume all GPUs consume 300W for the estimate.", "300W", "assumption"),
    ("Worst case becomes ~475W, inside the rating.", "~475W", "hypothetical"),
    ("It's supposed to be well above 500 W.", "500 W", "hypothetical"),
    ("A second card would need another 350 W.", "350 W", "hypothetical"),
    # calculation inputs, rates and prices
    ("400W / 1000W/kWh * 0.016 kgCO2/kWh * 73.6 h * 8 GPU = 6.8 kgCO2", "400W", "calculation_input"),
    # "1000W/kWh" is read as a rate before it is read as an operand: passed over either way
    ("400W / 1000W/kWh * 0.016 kgCO2/kWh * 73.6 h * 8 GPU = 6.8 kgCO2", "1000W", "rate"),
    ("8 GPUs x 300 W = 2.4 kW in total", "300 W", "calculation_input"),
    ("90W = 0.09 kW", "90W", "calculation_input"),
    ("90W = 0.09 kW", "0.09 kW", "measured"),
    ("electricity costs 0.30 €/kWh and 2 kWh per day", "2 kWh", "rate"),
    ("VRAM occupancy contributes <0.02 W/GB", "0.02 W", "rate"),
    # differences and savings
    ("Disabling the boost recovers ~52 W per GPU.", "~52 W", "delta"),
    ("the per-GPU overhead is ~52 W under TP=4", "~52 W", "delta"),
    # ratings
    ("The 3090 has a TDP of 350 W.", "350 W", "rated"),
    # another device entirely
    ("while an iPhone charge is about 3Wh", "about 3Wh", "not_gpu"),
    # the whole machine at the wall
    ("4.18 tokens/sec using on average 477W from the wall.", "477W", "system"),
    # "6W => 14W": two readings, not a calculation
    ("standby power is 6W => 14W with a model loaded", "14W", "measured"),
])
def test_figure_roles(sentence, written, role):
    assert role_of(sentence, written) == role


def post(text: str, **kwargs) -> list[dict]:
    return document_records(text, table_extractor="t", locator_prefix="p", **kwargs).records


def test_a_gpu_two_bullets_up_covers_the_bullets_after_it():
    text = ("My setup:\n\n- **GPU:** 2 x A100 80GB\n- **CPU:** EPYC 7713\n"
            "- **Power:** the GPU draws 280 W during generation\n")
    record, = post(text)
    assert (record["gpu_raw"], record["power_w"], record["workload"]) == ("2 x A100 80GB", 280.0, "inference")
    assert record["gpu_count"] == 2 and "the list it stands in" in record["notes"]


def test_the_one_gpu_a_post_names_later_or_in_its_title():
    body = ("- **Power consumption**: The GPU draws **80–100W** (out of a **160W power limit**).\n\n"
            "My hardware:\n\n- **GPU**: NVIDIA RTX 4060 Ti 16GB\n")
    record, = post(body)
    assert (record["gpu_raw"], record["power_w"], record["bounds"]) == (
        "NVIDIA RTX 4060 Ti 16GB", 90.0, {"power_w": [80.0, 100.0]})
    assert "power cap 160W stated beside it" in record["notes"]
    titled, = post("It only draws 65 W now.", title="Slow generation on my RTX 3060")
    assert titled["gpu_raw"] == "RTX 3060" and "the only GPU the post names" in titled["notes"]


def test_two_gpus_in_a_post_and_none_in_the_sentence_leave_the_gpu_open():
    record, = post("I have an RTX 3090 and an RTX 4090 at home.\n\nThe GPU idles at 20 W.")
    assert record["gpu_raw"] == "RTX 4090"  # the nearest earlier mention in the section
    record, = post("The GPU idles at 20 W.\n\nI have an RTX 3090 and an RTX 4090 at home.")
    assert record["gpu_raw"] is None


def test_gpu_from_the_next_sentence_when_its_own_names_none():
    record, = post("Max GPU pull 35 Watts. GPU: NVIDIA GeForce RTX 3050 6 GB.")
    assert (record["gpu_raw"], record["phase"], record["power_kind"]) == ("NVIDIA GeForce RTX 3050 6 GB", "peak", "peak")


@pytest.mark.parametrize("text", [
    "A P40 needs 9W if nothing is loaded to VRAM.",
    "The RTX 3060 idles at 14W with no model loaded.",
    "Between generations the 4090 sits at 30 W.",
    "The A100 draws 55 W while no prompt is processed.",
    "P8 state power usage of the 3090 is about 20W.",
])
def test_idle_cues(text):
    record, = post(text)
    assert record["phase"] == "idle"


def test_idle_cue_a_sentence_away_and_a_continued_phase():
    first, second = post("When VRAM holds a model the P40 draws 50W. But still the GPU is not calculating.")[:1] + \
        post("The 4060 Ti had a P8 state power usage of about 4-5W. With 0.3.9 this usage doubled to 9-10W.")[1:]
    assert first["phase"] == "idle"
    assert (second["power_w"], second["phase"]) == (9.5, "idle")


def test_server_software_is_not_system_scope():
    record, = post('The RTX 3060 draws 14W while "server" waits for api access in llama-server.')
    assert record["scope"] == "gpu" and "system_level" not in record["flags"]


def test_a_figure_repeated_in_a_post_is_one_record():
    records = post("It uses around 65 - 75W of power with the new driver on my GTX 1660 Super.\n\n"
                   "### Expected\n\nIt used around 65 - 75W of power before, on the same card.")
    assert len(records) == 1


def test_quoted_blocks_of_a_reply_are_not_read_again():
    reply = "> Max GPU pull 35 Watts on my RTX 3050.\n\nThanks, that helps."
    assert post(reply, read_quotes=False) == []
    assert len(post(reply)) == 1


def test_a_power_figure_with_nothing_about_gpus_is_not_a_record():
    extraction = document_records("The kettle in our kitchen uses 2000 W.", table_extractor="t",
                                  locator_prefix="p")
    assert extraction.records == [] and extraction.skipped == {"not_gpu": 1}


def test_a_wall_reading_of_a_machine_without_gpus_is_not_a_record():
    text = "Using Ollama on the AmpereOne CPU server: 4.18 tokens/sec using on average 477W from the wall."
    assert post(text) == []
    record, = post("Our 8x H100 box draws 6.1 kW at the wall under load.")
    assert (record["scope"], record["power_w"]) == ("system", 6100.0)


def test_version_numbers_are_not_figures():
    assert post("* PyTorch (pytorch-1.11 w/ CUDA-11.5) on an A100") == []


def test_calculation_gives_its_result():
    record, = post("400W / 1000W/kWh * 0.016 kgCO2/kWh * 73.6 h * 8 GPU = 6.8 kgCO2 on V100s")
    assert record["co2_kg"] == 6.8 and record.get("power_w") is None


def test_gpu_hours_and_carbon_in_card_prose():
    first, second, third = post("In this case, 10 V100 GPU hours were spent on 512 px, while 60 V100 GPU "
                                "hours were spent on 768 px. An additional 100 V100 GPU hours went to "
                                "1024 px.")
    assert [r["gpu_hours"] for r in (first, second, third)] == [10.0, 60.0, 100.0]
    assert first["gpu_raw"] == "V100"
    record, = post("Training emitted 1.2 tons CO2eq on 64 A100 GPUs.")
    assert (record["co2_kg"], record["gpu_count"]) == (1200.0, 64)


@pytest.mark.parametrize("text, kg", [
    ("30.16 kg CO2 eq.", 30.16), ("75.05 tCO2eq", 75_050.0), ("~5.3 kg CO₂eq", 5.3),
    ("64.52 kg CO2_2", 64.52), ("6.8 kgCO2", 6.8), ("12 tons of CO2", 12_000.0), ("0.197 kg of CO2", 0.197),
    ("2.5e-3 kg CO2eq", 0.0025),
])
def test_carbon_as_written(text, kg):
    found, = find_carbon(text)
    assert found.value == pytest.approx(kg)


def test_a_bare_mass_is_carbon_only_when_asked():
    assert find_carbon("0.6 kg (According to the calculator)") == []
    assert find_carbon("0.6 kg (According to the calculator)", unit_names_co2=False)[0].value == 0.6


@pytest.mark.parametrize("text, hours", [
    ("10 V100 GPU hours", 10.0), ("147K H100 hours", 147_000.0), ("1.3M GPU-hours", 1_300_000.0),
    ("600 GPU hours", 600.0),
])
def test_gpu_hours_as_written(text, hours):
    found, = find_gpu_hours(text)
    assert found.value == hours


def test_plain_hours_are_not_gpu_hours():
    assert find_gpu_hours("trained for 24 hours") == [] and find_gpu_hours("more GPU hours") == []


@pytest.mark.parametrize("sentence, written, role", [
    ("both cards enforced at 290 W and drawing ~245 W each", "290 W", "cap"),
    ("both cards enforced at 290 W and drawing ~245 W each", "~245 W", "measured"),
    ("Costs 15% throughput versus the 290 W efficiency knee.", "290 W", "cap"),
    ("Both cards floor at 100W so the values are legal.", "100W", "cap"),
    ("dmidecode reports a 490W supply for the box", "490W", "psu"),
    ("which with a 135W Xeon comes to a lot", "135W", "component"),
    ("and ~100W of board and fans", "~100W", "component"),
])
def test_more_roles_as_posts_write_them(sentence, written, role):
    assert role_of(sentence, written) == role


def test_a_spec_sheet_list_is_not_a_record():
    extraction = document_records("Options:\n\n- **3090**\n  - TDP: 350W\n  - System's: 750W\n  - VRAM: 24GB\n",
                                  table_extractor="t", locator_prefix="p")
    assert extraction.records == [] and extraction.skipped == {"spec_list": 2}


def test_draw_over_cap_with_the_unit_once():
    record, = post("nvidia-smi shows that at P2 the wattage is 38/140W, which means it is idling.",
                   title="A4000 stuck in P2")
    # 38 W drawn, the 140 W cap in the notes; the post's title names the card.
    assert (record["power_w"], record["phase"], record["gpu_raw"]) == (38.0, "idle", "A4000")
    assert "power cap 140W stated beside it" in record["notes"]


def test_each_figure_keeps_the_phase_of_its_own_clause():
    idle, busy = post("The RTX 4090 sits at 16W when idle and 280W when fully active.")
    assert (idle["phase"], busy["phase"]) == ("idle", "steady")
    _, loaded = post("On two L40S (~140W idle, 450-670W per GPU under load).")
    assert (loaded["power_w"], loaded["phase"], loaded["gpu_count"]) == (560.0, "steady", 2)


def test_a_post_about_gpus_ties_a_bare_figure_to_gpu_work():
    record, = post("121W in standby, even with nothing running.", title="High GPU power consumption in standby")
    assert (record["power_w"], record["phase"], record["gpu_raw"]) == (121.0, "idle", None)
    # A reply is about GPUs when its thread is, but never takes the title's GPU.
    reply, = document_records("My idle power consumption is around 80 watts.", table_extractor="t",
                              locator_prefix="c", topic="RTX 3090 idles high after CUDA init").records
    assert (reply["power_w"], reply["gpu_raw"], reply["phase"]) == (80.0, None, "idle")


def test_a_reading_beside_a_tdp_is_not_a_tdp_estimate():
    reading, rating = post("The 388.69 W you're seeing is well below the 450 W TDP of the RTX 4090.")
    assert (reading["power_w"], reading["power_kind"], reading["method"]) == (388.69, "measured", None)
    assert (rating["power_w"], rating["power_kind"]) == (450.0, "rated")


def test_zero_carbon_after_offsets_is_accounting_not_a_figure():
    extraction = document_records("Estimated total location-based emissions were 240 tons CO2eq for training. "
                                  "Matched with renewable energy, the total market-based emissions were 0 tons CO2eq.",
                                  table_extractor="t", locator_prefix="p", is_post=False)
    record, = extraction.records
    assert record["co2_kg"] == 240_000.0 and extraction.skipped["accounting"] == 1


@pytest.mark.parametrize("text, watts, low_high", [
    ("the card idles at (50w to 70w for me)", 60.0, [50.0, 70.0]),
    ("around 45W-50W in idle mode", 47.5, [45.0, 50.0]),
    ("a constant 114~118w", 116.0, [114.0, 118.0]),
])
def test_ranges_written_with_the_unit_twice_or_a_tilde(text, watts, low_high):
    record, = post(text + " on my RTX 3060.")
    assert (record["power_w"], record["bounds"]) == (watts, {"power_w": low_high})


def test_figures_sharing_a_sentence_share_its_phase_unless_one_names_its_own():
    first, second = post("It is constant pulling 60W or just 11W board power on the GPU during idle.")
    assert (first["phase"], second["phase"], second["power_kind"]) == ("idle", "idle", "measured")


@pytest.mark.parametrize("text, role", [
    ("My graphics card uses 40W more with any model loaded.", "delta"),
    ("Say 8x H100s running: the monthly power alone is about 5,600 kWh.", "rate"),
    ("The tool returns power_usage = 0 W on this GPU.", "zero"),
])
def test_differences_periods_and_zeros_are_passed_over(text, role):
    extraction = document_records(text, table_extractor="t", locator_prefix="p")
    assert extraction.records == [] and role in extraction.skipped


def test_a_post_wrapped_in_lower_case_stays_one_sentence():
    record, = post("With no model loaded my RTX 3060 idles at about\n40W in nvidia-smi.")
    assert (record["power_w"], record["phase"]) == (40.0, "idle")  # one sentence over the wrapped line
    one, two = post("The 4090 idles at 20 W.\nThe 3090 idles at 30 W.")
    assert (one["gpu_raw"], two["gpu_raw"]) == ("4090", "3090")


def test_a_decimal_comma_is_not_read_as_another_figure():
    assert [r["power_w"] for r in post("The A100 drew 1,5 kW and then 300 W.")] == [300.0]


def test_a_figure_too_large_to_be_finite_is_no_figure():
    assert post("The A100 drew " + "9" * 400 + " W.") == []


def test_clause_breaks_start_at_the_space_before_a_dash():
    """A dash between spaces is found at its dash and given its space back; in " - - " the second
    dash's space ends the first break, so it starts none (as a search from the start finds)."""
    from crawler.extract.figure_roles import _clause_break_spans, clause_around
    assert list(_clause_break_spans("a - b, c")) == [(1, 4), (5, 6)]
    assert list(_clause_break_spans("a - - b")) == [(1, 4)]
    assert list(_clause_break_spans("x-y a->b band and")) == [(5, 7), (14, 17)]
    sentence = "idle - 50 W at idle — then 300 W"  # the 50 W stands at 7-11, the 300 W at 27
    assert clause_around(sentence, 7, 11, 0, 27) == ("", " at idle")

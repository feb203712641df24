import pytest

from crawler.extract.units import find_figures, parse_count, parse_figure, parse_number, to_canonical


@pytest.mark.parametrize("text, kind, value", [
    ("350 W", "power", 350.0),
    ("0.35 kW", "power", 350.0),
    ("350W", "power", 350.0),
    ("0.42 kWh", "energy", 0.42 * 3_600_000),          # 1 kWh = 3.6 MJ
    ("1.2 J/token", "energy_per_token", 1.2),
    ("3.5 Wh per 1k queries", "energy_per_query", 12.6),  # 3.5 * 3600 J / 1000
    ("294.07 J", "energy", 294.07),
    ("2.5 kJ", "energy", 2500.0),
    ("12 s", "duration", 12.0),
    ("2 hours", "duration", 7200.0),
    ("5 MWh", "energy", 1.8e10),
    ("1.5 mWh", "energy", 5.4),                        # milli, not mega: case matters
])
def test_figures_convert_to_canonical_units(text, kind, value):
    figure = parse_figure(text)
    assert figure.kind == kind
    assert figure.value == pytest.approx(value)
    assert not figure.is_range and not figure.approximate


def test_tokens_per_kwh_becomes_joules_per_token():
    figure = parse_figure("7,059,021 tokens/kWh")
    assert figure.kind == "energy_per_token"
    assert figure.value == pytest.approx(3_600_000 / 7_059_021)  # 0.50999 J/token


def test_approximate_figure_is_marked():
    figure = parse_figure("~300 W")
    assert figure.value == 300.0 and figure.approximate
    assert "approximate" in figure.describe()


def test_range_keeps_both_ends_and_says_so():
    figure = parse_figure("350-400W")
    assert (figure.low, figure.high, figure.value) == (350.0, 400.0, 375.0)
    assert figure.is_range
    assert "350–400 W" in figure.describe() and "midpoint" in figure.describe()


def test_figures_found_in_prose_in_order():
    figures = find_figures("idle at 60W, peaks at 340 W, and uses 0.35 J/token on A100-80GB")
    assert [(f.kind, f.value) for f in figures] == [
        ("power", 60.0), ("power", 340.0), ("energy_per_token", 0.35)]


def test_model_sizes_and_gpu_names_are_not_figures():
    assert parse_figure("Llama-2-7B on an A100 80GB") is None


@pytest.mark.parametrize("text, value", [
    ("1.3M", 1_300_000.0), ("30.84M", 30_840_000.0), ("2,040", 2040.0), ("184320", 184320.0),
    ("2.5k", 2500.0),
])
def test_counts(text, value):
    assert parse_count(text) == value


@pytest.mark.parametrize("text", ["", "n/a", "12 W", "M"])
def test_not_counts(text):
    assert parse_count(text) is None


def test_parse_number_rejects_words():
    assert parse_number("2,040.5") == 2040.5
    with pytest.raises(ValueError):
        parse_number("n/a")


def test_to_canonical_names_the_quantity():
    assert to_canonical(0.05, "kilowatt_hour") == ("energy", pytest.approx(180_000.0))


@pytest.mark.parametrize("symbol, expected", [
    ("kW", ("power", 1000.0)), ("kWh", ("energy", 3_600_000.0)), ("MWh", ("energy", 3.6e9)),
    ("ms", ("duration", 0.001)), ("furlongs", None),
])
def test_symbol_kind_and_factor(symbol, expected):
    from crawler.extract.units import symbol_kind_and_factor
    result = symbol_kind_and_factor(symbol)
    assert result == (None if expected is None else (expected[0], pytest.approx(expected[1])))


def _pint_registry():
    pint = pytest.importorskip("pint")
    registry = pint.UnitRegistry()
    registry.define("token = [token]")
    registry.define("query = [query]")
    return registry


def test_unit_table_equals_pint_float_for_float():
    """The factor table stands in for pint at run time; pint is its oracle. Every unit, every rate
    an energy unit makes with a count of tokens or queries, and every inverse ("tokens/kWh") must
    give pint's own float, so a record converted with the table is the record pint would give."""
    from crawler.extract.units import UNIT_FACTORS, _inverse_to_canonical

    registry = _pint_registry()
    canonical = {"power": "watt", "energy": "joule", "duration": "second",
                 "energy_per_token": "joule / token", "energy_per_query": "joule / query"}
    for name, (kind, factor) in UNIT_FACTORS.items():
        assert float(registry.Quantity(1.0, name).to(canonical[kind]).magnitude) == factor, name
        if kind != "energy":
            continue
        for per in ("token", "query"):
            for count in [*range(1, 1001), 1024, 10**6, 123_456_789, 10**12]:
                quantity = registry.parse_expression(f"{name} / ({count} * {per})")
                expected = float(quantity.to(canonical[f"energy_per_{per}"]).magnitude)
                assert to_canonical(1.0, name, count, per) == (f"energy_per_{per}", expected), (name, per, count)
    symbols = {"kilowatt_hour": "kWh", "watt_hour": "Wh", "kilojoule": "kJ", "joule": "J"}
    for name, symbol in symbols.items():
        for value in (1.0, 3.0, 7.0, 0.3, 7_059_021.0, 123.456, 1e-9):
            inverse = 1 / registry.Quantity(value, f"token / {name}")
            expected = float(inverse.to("joule / token").magnitude)
            assert _inverse_to_canonical(value, "tokens", symbol) == ("energy_per_token", expected), (symbol, value)


def test_rates_of_power_or_time_are_not_figures():
    # "W per token" and "s per query" name no field; "per 0 queries" divides by nothing.
    assert find_figures("5 W per token, 2 s per query") == []
    assert find_figures("5 Wh per 0 queries") == []
    assert [f.value for f in find_figures("3 J/token")] == [3.0]


def test_converting_a_figure_does_not_import_pint():
    # pint's import and registry were ~0.7 s CPU at the first figure of every crawl.
    import subprocess
    import sys
    program = ("import sys; from crawler.extract.units import find_figures; "
               "assert find_figures('3.5 Wh per 1k queries, 7,059,021 tokens/kWh, 300 W'); "
               "print('pint' in sys.modules)")
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "False"


@pytest.mark.parametrize("text", ["2,040", "0.35", ".5", "1.", "007", "1" * 30 + ".123456789012345678901",
                                  "9007199254740993", "0." + "0" * 30 + "17", "1e3", " 12 "])
def test_parse_number_rounds_plain_digits_as_through_decimal(text):
    from decimal import Decimal
    assert parse_number(text) == float(Decimal(text.strip().replace(",", "")))


def test_parse_number_refuses_digits_past_a_float():
    with pytest.raises(ValueError):
        parse_number("1" * 400)



"""Time per KB for the inputs that once stalled a crawl, at ten times the size they were found at.

Run: python benchmarks/bench_hostile.py. Each input goes through the model-card reader and the
GitHub post reader (a post is cut at its 200,000-character bound first, as the spider reads it).
Found at: 10,000 digits (~40 s), tables nested 200 deep (>10 s), a 522-byte YAML alias bomb in
card metadata (33 s), 20,000 blank lines (14 s), "NVIDIA " x 8,000 before a figure (12 s), an
unclosed <table or <h1> (quadratic). Also timed: large pastes of tool output (runs of "|",
unclosed dicts, repeated header lines), whose records tests/test_tool_output.py checks. Reading
should stay near the ~1 MB/s of ordinary text or better: every rule is linear, so the time per KB
does not grow with the size.
"""

from __future__ import annotations

import time

from crawler.extract.github_issues import comment_records
from crawler.extract.model_cards import extract_card


def yaml_alias_bomb(levels: int) -> str:
    """Card front matter whose aliases expand to 9**levels values (522 bytes at 9 levels)."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]" for level in range(1, levels)]
    return "---\nco2_eq_emissions:\n  emissions: 5\n  source:\n" + "".join(f"    {line}\n" for line in lines) + "---\n"


INPUTS = {
    "100,000 digits": "The H100 draws " + "1" * 100_000,
    "tables nested 2,000 deep": "<table><tr><td>" * 2000 + "H100 300 W" + "</td></tr></table>" * 2000,
    "YAML alias bomb, 90 levels": yaml_alias_bomb(90),
    "200,000 blank lines": "The H100 draws 300 W." + "\n" * 200_000 + "end",
    '"NVIDIA " x 80,000 before a figure': "NVIDIA " * 80_000 + "H100 300 W",
    "an unclosed <table, 400 KB": "H100 300 W <table" + " x" * 200_000,
    "40,000 unclosed <table tags": "H100 300 W " + "<table x" * 40_000,
    "an unclosed <h1>, 400 KB": "H100 300 W <h1>" + "x " * 200_000,
    "a run of 200,000 [": "[" * 200_000 + " 300 W H100",
    # Pastes of tool output (the reader every card and post goes through first).
    "200,000 | characters": "|" * 200_000,
    "1,600 rows before an nvidia-smi header": ("| " + "x " * 60 + "|\n") * 1_600
                                              + "| Fan  Temp  Perf  Pwr:Usage/Cap|\n",
    "a Zeus dict of 30,000 entries, unclosed": "time=1 energy={" + "0: 1, " * 30_000,
    "50,000 nvidia-smi dmon lines": "# gpu pwr\n# Idx W\n" + "0 1\n" * 50_000,
    '"all GPUs : " x 18,000 (CodeCarbon)': "[codecarbon INFO @ 10:00:00] Energy consumed for "
                                           + "all GPUs : " * 18_000,
    "20,000 [N/A] rows of a query CSV": "name, power.draw\n" + "a, [N/A]\n" * 20_000,
    "10,000 query CSV header lines": "power.draw, power.draw\n" * 10_000,
}


def main() -> None:
    print(f"{'input':40} {'KB':>7} {'card s':>8} {'ms/KB':>7} {'post s':>8} {'ms/KB':>7}")
    for name, text in INPUTS.items():
        size_kb = len(text) / 1000
        row = f"{name:40} {size_kb:7.0f}"
        for read in (extract_card, lambda post: comment_records(post, "issue#1")):
            started = time.process_time()
            read(text)
            elapsed = time.process_time() - started
            row += f" {elapsed:8.3f} {1000 * elapsed / size_kb:7.3f}"
        print(row)


if __name__ == "__main__":
    main()

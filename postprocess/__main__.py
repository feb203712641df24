"""python -m postprocess [OUTPUT_DIR] [--assumptions FILE] [--out DIR]"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path

import yaml

from .load import load_output
from .report import write_report
from .spreadsheets import tool_counts, write_spreadsheets
from .synthesis import synthesise

EXAMPLE_ASSUMPTIONS = resources.files(__package__).joinpath("assumptions.example.yaml")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m postprocess",
                                     description="Spreadsheets, merged table and synthesis report from crawl JSONL.")
    parser.add_argument("output_dir", nargs="?", type=Path, default=Path("output"),
                        help="folder of crawl output to read (default: output/)")
    parser.add_argument("--assumptions", type=Path, help="YAML file of power assumptions "
                        "(default: the shipped example for H100 PCIe inference)")
    parser.add_argument("--out", type=Path, help="where to write (default: OUTPUT_DIR/report/)")
    args = parser.parse_args(argv)
    if not args.output_dir.is_dir():
        print(f"error: {args.output_dir} is not a folder of crawl output; run the crawlers first", file=sys.stderr)
        return 2
    out = args.out or args.output_dir / "report"
    assumptions_text = (args.assumptions.read_text("utf-8") if args.assumptions
                        else EXAMPLE_ASSUMPTIONS.read_text("utf-8"))
    try:
        assumptions = yaml.safe_load(assumptions_text) or {}
    except yaml.YAMLError as exc:
        print(f"error: the assumptions file is not valid YAML: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    loaded = load_output(args.output_dir)
    for problem in loaded.problems:
        print(f"skipped {problem}", file=sys.stderr)
    synthesis = synthesise(loaded.measurements, assumptions)
    tools = tool_counts(loaded.discussions)
    synthesis["community_tools"] = tools
    synthesis["input"] = {"files": loaded.files, "measurements": int(len(loaded.measurements)),
                          "discussions": int(len(loaded.discussions)),
                          "skipped_lines": [str(p) for p in loaded.problems]}
    write_spreadsheets(loaded.measurements, loaded.discussions, out)
    (out / "synthesis.json").write_text(json.dumps(synthesis, indent=1, default=str), "utf-8")
    markdown, page = write_report(loaded.measurements, synthesis, tools, [str(p) for p in loaded.problems], out)
    print(f"{len(loaded.measurements)} measurements from {loaded.files} files -> {out}/ "
          f"(report: {page}, {markdown})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

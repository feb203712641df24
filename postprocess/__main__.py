"""python -m postprocess [OUTPUT_DIR] [--assumptions FILE] [--out DIR] [--push-to-hub ORG/NAME]"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import orjson
import yaml

from .load import Loaded, load_output
from .publish import OutputError, staged_output
from .push import push_to_hub
from .report import write_report
from .spreadsheets import tool_counts, write_spreadsheets
from .synthesis import synthesise

EXAMPLE_ASSUMPTIONS = resources.files(__package__).joinpath("assumptions.example.yaml")
PROBLEMS_PRINTED = 20
SYNTHESIS_JSON = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _print_input_problems(loaded: Loaded) -> None:
    problems = loaded.problems
    for problem in problems.listed[:PROBLEMS_PRINTED]:
        print(problem, file=sys.stderr)
    if problems.count > PROBLEMS_PRINTED:
        print(f"... and {problems.count - PROBLEMS_PRINTED} more input problems (synthesis.json lists "
              f"{len(problems.listed)} of {problems.count})", file=sys.stderr)
    if loaded.disagreeing:
        print(f"{loaded.disagreeing} ids were read more than once with different figures; the latest "
              "retrieved_at is kept (synthesis.json: input.disagreeing_duplicates)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m postprocess",
                                     description="Spreadsheets, merged table and synthesis report from crawl JSONL.")
    parser.add_argument("output_dir", nargs="?", type=Path, default=Path("output"),
                        help="folder of crawl output to read (default: output/)")
    parser.add_argument("--assumptions", type=Path, help="YAML file of power assumptions "
                        "(default: the shipped example for H100 PCIe inference)")
    parser.add_argument("--out", type=Path, help="where to write (default: OUTPUT_DIR/report/)")
    parser.add_argument("--push-to-hub", metavar="ORG/NAME", help="also publish the records, a dataset card and the "
                        "report as this Hub dataset (HF_TOKEN, a write token; HF_ENDPOINT)")
    args = parser.parse_args(argv)
    token = os.environ.get("HF_TOKEN", "").strip()
    if args.push_to_hub and not token:
        print("error: --push-to-hub needs a write token in HF_TOKEN", file=sys.stderr)
        return 2
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
    try:
        # The pool's block ends first: the spreadsheets are finished (or failed) before the staging
        # folder is swapped in or removed.
        with staged_output(out) as staging, ThreadPoolExecutor(1) as pool:
            loaded = load_output(args.output_dir)
            _print_input_problems(loaded)
            # The spreadsheets are written while the synthesis and report are worked out: they read the
            # same data and write files of their own, and their Arrow kernels release the GIL. The
            # thread gets shallow copies: the columns are shared, not pandas' block manager, which some
            # reads reorganise in place (consolidation), so neither thread changes what the other reads.
            spreadsheets = pool.submit(write_spreadsheets, loaded.measurements.copy(deep=False),
                                       loaded.discussions.copy(deep=False), staging)
            synthesis = synthesise(loaded.measurements, assumptions)
            tools = tool_counts(loaded.discussions)
            synthesis["community_tools"] = tools
            synthesis["input"] = loaded.summary()
            # orjson writes NaN and infinities as null: the file stays strict JSON whatever the figures.
            (staging / "synthesis.json").write_bytes(orjson.dumps(synthesis, default=str, option=SYNTHESIS_JSON))
            write_report(loaded.measurements, synthesis, tools, staging)
            spreadsheets.result()  # its error, if any, is this run's
    except OutputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{len(loaded.measurements)} measurements from {loaded.files} files -> {out}/ "
          f"(report: {out / 'report.html'}, {out / 'report.md'})")
    if args.push_to_hub:
        try:
            url = push_to_hub(args.push_to_hub, loaded.measurements, loaded.discussions, out, token=token,
                              endpoint=os.environ.get("HF_ENDPOINT") or None)
        # Whatever stops the push (refused by the Hub, an invalid name, the network; huggingface_hub's
        # HTTP library and so its exceptions differ between versions) is one line: the local outputs
        # are written by now.
        except Exception as error:  # noqa: BLE001
            reason = (str(error).splitlines() or [""])[0]
            print(f"error: pushing to {args.push_to_hub} failed: {type(error).__name__}: {reason}", file=sys.stderr)
            return 2
        print(f"pushed to {args.push_to_hub}: {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

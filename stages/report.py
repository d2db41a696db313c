"""DVC stage: the integrated report (Markdown and self-contained HTML) and summary metrics."""

from avatar_type.params import load_yaml
from avatar_type.runner import run
from avatar_type.stages import report
from avatar_type.stages.args import stage_parser


def main() -> None:
    args = stage_parser(__doc__).parse_args()
    report.run(load_yaml(args.params), args.params)


if __name__ == "__main__":
    run(main)

"""`dvc plots diff` as a page that draws without the network: two experiments' (or any revisions') learning
curves on one chart per scenario and agent, and the report's figures.

DVC's own page loads vega, vega-lite and vega-embed from a CDN, so offline it stays blank. This one gives
`dvc plots diff` an HTML template with the three scripts inlined, from the copies the pinned Snakemake
installs for its own reports (nothing is downloaded, nothing vendored here).

    python scripts/plots_offline.py ppo-lr-high ppo-lr-low            # -> plots/index.html
    python scripts/plots_offline.py --out curves HEAD ppo-lr-high --targets learning_curve-mall-ppo
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

SCRIPTS = ("vega/vega.js", "vega-lite/vega-lite.js", "vega-embed/vega-embed.js")  # in the order they load
# DVC fills `{plot_divs}`; without `{scripts}` in the template it adds no script of its own
TEMPLATE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>DVC plots</title>
{inlined}
</head>
<body>
{{plot_divs}}
</body>
</html>
"""


def plotting_scripts() -> str:
    """The three scripts as inline <script> elements, from Snakemake's report assets."""
    try:
        folder = resources.files("snakemake.assets") / "data"
        sources = [(folder / name).read_text(encoding="utf-8") for name in SCRIPTS]
    except (ModuleNotFoundError, FileNotFoundError) as error:
        raise SystemExit(
            f"plots_offline: error: no vega scripts in the installed snakemake ({error}); run make setup"
        ) from None
    return "\n".join(f"<script>\n{source}\n</script>" for source in sources)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revisions", nargs="+", help="experiments, branches or commits (the workspace: none)")
    parser.add_argument("--out", default="plots", help="the page's folder (default: plots)")
    parser.add_argument("--targets", nargs="*", default=[], help="plot names or files (default: every plot)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        template = Path(folder) / "template.html"
        template.write_text(TEMPLATE.format(inlined=plotting_scripts()), encoding="utf-8")
        command = ["dvc", "plots", "diff", *args.revisions, "--html-template", str(template), "--out", args.out]
        if args.targets:
            command += ["--targets", *args.targets]
        return subprocess.run(command).returncode


if __name__ == "__main__":
    sys.exit(main())

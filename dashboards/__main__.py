"""Renders the dashboards into the chart: `python -m dashboards` writes helm/crm/dashboards/*.json;
`--check` fails when the committed JSON differs from what the modules produce."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dashboards import commissions, overview, parties
from dashboards.builder import Dashboard

OUT = Path(__file__).resolve().parent.parent / "helm" / "crm" / "dashboards"
BUILDERS = (overview.build, parties.build, commissions.build)


def render(dashboard: Dashboard) -> str:
    return json.dumps(dashboard.model(), indent=2, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    out = {}
    for build in BUILDERS:
        dashboard = build()
        out[f"{dashboard.uid}.json"] = render(dashboard)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when helm/crm/dashboards is stale")
    args = parser.parse_args()
    wanted = rendered()
    present = {p.name: p.read_text() for p in OUT.glob("*.json")}
    if args.check:
        stale = sorted(n for n in wanted.keys() | present.keys() if wanted.get(n) != present.get(n))
        if stale:
            print(f"stale dashboards (run `make gen`): {', '.join(stale)}", file=sys.stderr)
            return 1
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name in present.keys() - wanted.keys():
        (OUT / name).unlink()
    for name, text in wanted.items():
        (OUT / name).write_text(text)
    print(f"wrote {len(wanted)} dashboards to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

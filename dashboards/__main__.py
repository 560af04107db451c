"""`python -m dashboards [--check]`: regenerate (or check) the committed dashboard JSON."""

from __future__ import annotations

import sys

from dashboards.build import JSON_DIR, stale, write


def main(argv: list[str]) -> int:
    if "--check" in argv:
        outdated = stale()
        for name in outdated:
            print(f"{JSON_DIR / name} is out of date: run python -m dashboards", file=sys.stderr)
        return 1 if outdated else 0
    for path in write():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Rich renderings for the terminal: what a person running xbmon looks at."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from rich.table import Table

from schemas.models import Finding

SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")
SEVERITY_STYLE = {
    "critical": "bold red",
    "high": "red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


def findings_table(findings: Iterable[Finding]) -> Table:
    """Findings counted by rule, most severe first, with the enterprises they concern."""
    by_rule: Counter[tuple[str, str]] = Counter()
    enterprises: dict[str, set[str]] = {}
    for finding in findings:
        by_rule[(finding.severity, finding.rule_id)] += 1
        enterprises.setdefault(finding.rule_id, set()).add(finding.enterprise_id)
    table = Table(title="Findings by rule")
    table.add_column("severity")
    table.add_column("rule")
    table.add_column("findings", justify="right")
    table.add_column("enterprises", justify="right")
    for (severity, rule), count in sorted(
        by_rule.items(), key=lambda item: (SEVERITY_ORDER.index(item[0][0]), item[0][1])
    ):
        style = SEVERITY_STYLE[severity]
        table.add_row(f"[{style}]{severity}[/]", rule, str(count), str(len(enterprises[rule])))
    table.add_section()
    table.add_row(
        "",
        "total",
        str(sum(by_rule.values())),
        str(len(set().union(*enterprises.values())) if enterprises else 0),
    )
    return table

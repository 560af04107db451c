"""Alert rules, their promtool unit tests, the Alertmanager routes and the runbooks.

Real tools first: `promtool check rules` and `promtool test rules` (Debian package prometheus),
`amtool check-config` and `amtool config routes test` (prometheus-alertmanager). A test skips
only when its tool is not installed, naming the package; scripts/test.sh installs both.

Then the files are read as data and held against each other and against the code: every alert
has `severity`, `route`, `summary`, `description` and a `runbook_url` whose runbook exists; every
alert rule has a unit test where it fires and one where it must not; every metric an expression
reads is defined in pipeline/metrics.py with the labels the expression uses; the inhibition
rules silence what they should and nothing else.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import Counter, Gauge, Histogram

from pipeline import metrics

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
RUNBOOKS = ROOT / "docs" / "runbooks"
RUNBOOK_BASE = "https://xbmon.invalid/runbooks/"

TOOL_PACKAGES = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}
SEVERITIES = ("critical", "high", "medium", "low", "info")
ROUTES = ("page", "ticket")
TIERS = ("A", "B", "C", "D")
RUNBOOK_SECTIONS = ("## Meaning", "## Impact", "## Diagnosis", "## Remediation", "## Escalation")
#: Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"job", "instance"}


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package: {TOOL_PACKAGES[name]})")
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alert_rules() -> Iterator[tuple[str, dict[str, Any]]]:
    """(group name, rule) of every alerting rule."""
    for path in RULE_FILES:
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    yield group["name"], rule


def rule_id(value: Any) -> str:
    """Test ids: the group name, then alert name and severity."""
    if isinstance(value, dict):
        return f"{value['alert']}-{value['labels']['severity']}"
    return str(value)


def alert_names() -> list[str]:
    return sorted({rule["alert"] for _, rule in alert_rules()})


def rule_tests() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(test case, alert_rule_test entry) of every promtool unit test."""
    for path in RULE_TESTS:
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                yield case, check


# -- the real tools -----------------------------------------------------------------------------


def test_there_are_rules_and_tests() -> None:
    assert RULE_FILES and RULE_TESTS
    assert len(alert_names()) >= 9


def test_promtool_check_rules() -> None:
    result = run(tool("promtool"), "check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests() -> None:
    result = run(tool("promtool"), "test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS), result.stdout


def test_amtool_check_config() -> None:
    result = run(tool("amtool"), "check-config", str(ALERTMANAGER_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


def amtool_route(*pairs: str, expected: str) -> subprocess.CompletedProcess[str]:
    return run(
        tool("amtool"),
        "config",
        "routes",
        "test",
        "--config.file",
        str(ALERTMANAGER_CONFIG),
        f"--verify.receivers={expected}",
        *pairs,
    )


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        # Business pages by tier: D escalated, A-C to the supervision duty officer.
        ("alertname=XbmonDTierNewHighFinding severity=high route=page tier=D", "pager-tier-d"),
        ("alertname=XbmonCriticalFindingOpen severity=critical route=page tier=D", "pager-tier-d"),
        (
            "alertname=XbmonCriticalFindingOpen severity=critical route=page tier=B",
            "pager-supervision",
        ),
        (
            "alertname=XbmonCriticalFindingOpen severity=critical route=page tier=A",
            "pager-supervision",
        ),
        # Pipeline pages (no tier) go to the platform on-call.
        ("alertname=XbmonWorkerDown severity=high route=page", "pager-platform"),
        (
            "alertname=XbmonStoreWriteFailures severity=high route=page table=findings",
            "pager-platform",
        ),
        # Tickets: C/D to the priority queue, A/B to the supervision queue, no tier to platform.
        (
            "alertname=XbmonExample severity=medium route=ticket tier=C",
            "ticket-supervision-priority",
        ),
        ("alertname=XbmonExample severity=high route=ticket tier=D", "ticket-supervision-priority"),
        ("alertname=XbmonExample severity=low route=ticket tier=A", "ticket-supervision"),
        ("alertname=XbmonUndeclaredEgress severity=high route=ticket", "ticket-supervision"),
        ("alertname=XbmonConsumerLagHigh severity=medium route=ticket topic=x", "ticket-platform"),
        # The same severity pages or not by `route` alone; no route label never pages.
        ("alertname=XbmonExample severity=high route=ticket tier=B", "ticket-supervision"),
        ("alertname=XbmonExample severity=high route=page tier=B", "pager-supervision"),
        ("alertname=XbmonExample severity=critical tier=D", "ticket-platform"),
    ],
)
def test_amtool_routes(labels: str, receiver: str) -> None:
    result = amtool_route(*labels.split(), expected=receiver)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def test_amtool_route_test_detects_a_wrong_receiver() -> None:
    """--verify.receivers really fails on a mismatch (so the cases above mean something)."""
    result = amtool_route("alertname=XbmonWorkerDown", "route=page", expected="ticket-platform")
    assert result.returncode != 0


def test_every_route_receiver_is_a_webhook_on_localhost() -> None:
    config = load_yaml(ALERTMANAGER_CONFIG)
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}

    def walk(route: Mapping[str, Any]) -> Iterator[str]:
        yield route["receiver"]
        for child in route.get("routes", []):
            yield from walk(child)

    used = set(walk(config["route"]))
    assert used == set(receivers), "a receiver is unused or undeclared"
    for name, receiver in receivers.items():
        hooks = receiver.get("webhook_configs", [])
        assert hooks, f"{name}: no webhook"
        assert set(receiver) == {"name", "webhook_configs"}, f"{name}: a real integration"
        for hook in hooks:
            assert hook["url"].startswith("http://127.0.0.1:"), name
    assert set(config["route"]["group_by"]) == {"alertname", "tier"}


# -- the rules as data --------------------------------------------------------------------------


@pytest.mark.parametrize(("group", "rule"), list(alert_rules()), ids=rule_id)
def test_rule_labels_and_annotations(group: str, rule: dict[str, Any]) -> None:
    name = rule["alert"]
    assert re.fullmatch(r"Xbmon[A-Z][A-Za-z]+", name)
    labels = rule["labels"]
    assert labels["severity"] in SEVERITIES, name
    assert labels["route"] in ROUTES, name
    # Pages are for what cannot wait; a ticket is never critical.
    if labels["severity"] == "critical":
        assert labels["route"] == "page", name
    annotations = rule["annotations"]
    assert {"summary", "description", "runbook_url"} <= set(annotations), name
    assert annotations["summary"].strip() and annotations["description"].strip(), name
    assert annotations["runbook_url"] == RUNBOOK_BASE + name
    # The tier of a business alert comes from its expression, never from a fixed label.
    assert "tier" not in labels, name
    if group == "xbmon-business" and "tier" in rule["expr"]:
        assert "by (tier)" in rule["expr"], name


@pytest.mark.parametrize("name", alert_names())
def test_runbook_exists_with_every_section(name: str) -> None:
    path = RUNBOOKS / f"{name}.md"
    assert path.is_file(), f"no runbook {path.relative_to(ROOT)}"
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"# {name}\n"), path
    for section in RUNBOOK_SECTIONS:
        assert f"\n{section}\n" in text, f"{path.name}: no {section}"


def test_no_orphan_runbook() -> None:
    names = set(alert_names())
    for path in RUNBOOKS.glob("*.md"):
        assert path.stem in names or path.name == "README.md", f"{path.name}: no such alert"


def test_unit_tests_load_every_rule_file() -> None:
    loaded = {
        (path.parent / rule_file).resolve()
        for path in RULE_TESTS
        for rule_file in load_yaml(path)["rule_files"]
    }
    assert loaded == {path.resolve() for path in RULE_FILES}


@pytest.mark.parametrize("name", alert_names())
def test_every_alert_has_a_firing_and_a_silent_unit_test(name: str) -> None:
    checks = [check for _, check in rule_tests() if check["alertname"] == name]
    assert any(not check.get("exp_alerts") for check in checks), f"{name}: no must-not-fire case"
    fired = [alert for check in checks for alert in check.get("exp_alerts") or []]
    # Each rule of the name (one per severity) fires somewhere, with all its annotations.
    severities = {rule["labels"]["severity"] for _, rule in alert_rules() if rule["alert"] == name}
    assert {alert["exp_labels"]["severity"] for alert in fired} == severities, name
    for alert in fired:
        assert set(alert["exp_annotations"]) >= {"summary", "description", "runbook_url"}
        assert alert["exp_labels"].get("tier") in (None, *TIERS)


# -- the metrics the rules read -----------------------------------------------------------------

_SELECTOR = re.compile(r"\b(?P<name>(?:xbmon_[a-z_]+|up))\b(?:\{(?P<matchers>[^}]*)\})?")
_MATCHER = re.compile(r"(?P<label>[a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*\"")


def exposed_metrics() -> dict[str, set[str]]:
    """Series name -> label names, for every metric pipeline/metrics.py defines."""
    found: dict[str, set[str]] = {}
    for value in vars(metrics).values():
        if isinstance(value, Counter):
            found[f"{value._name}_total"] = set(value._labelnames)
        elif isinstance(value, Gauge):
            found[value._name] = set(value._labelnames)
        elif isinstance(value, Histogram):
            for suffix in ("_bucket", "_sum", "_count"):
                found[value._name + suffix] = set(value._labelnames) | {"le"}
    return found


@pytest.mark.parametrize(("group", "rule"), list(alert_rules()), ids=rule_id)
def test_rules_read_metrics_that_exist(group: str, rule: dict[str, Any]) -> None:
    exposed = exposed_metrics()
    for match in _SELECTOR.finditer(rule["expr"]):
        name = match["name"]
        labels = {m["label"] for m in _MATCHER.finditer(match["matchers"] or "")}
        if name == "up":
            assert labels == {"job"}, rule["alert"]
            continue
        assert name in exposed, f"{rule['alert']}: {name} is not in pipeline/metrics.py"
        assert labels <= exposed[name] | TARGET_LABELS, f"{rule['alert']}: {name}{labels}"
    for label in re.findall(r"by \(([^)]*)\)", rule["expr"]):
        for item in label.split(","):
            assert item.strip() in {"tier", "topic", "table"}, rule["alert"]


# -- inhibition, evaluated here as Alertmanager does ---------------------------------------------


def _matches(matcher: str, labels: Mapping[str, str]) -> bool:
    match = re.fullmatch(r'(\w+)(=~|!~|!=|=)"(.*)"', matcher)
    assert match, matcher
    name, op, value = match.groups()
    actual = labels.get(name, "")
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    found = re.fullmatch(value, actual) is not None
    return found if op == "=~" else not found


def inhibited(target: Mapping[str, str], source: Mapping[str, str]) -> bool:
    """Whether a firing `source` alert silences `target` under alertmanager.yml."""
    for rule in load_yaml(ALERTMANAGER_CONFIG)["inhibit_rules"]:
        if (
            all(_matches(m, source) for m in rule["source_matchers"])
            and all(_matches(m, target) for m in rule["target_matchers"])
            and all(
                source.get(label, "") == target.get(label, "") for label in rule.get("equal", [])
            )
        ):
            return True
    return False


def alert(spec: str) -> dict[str, str]:
    """ "XbmonX high tier=D" -> the labels of such an alert (route as the rules set it)."""
    name, severity, *pairs = spec.split()
    route = "ticket" if severity in ("medium", "low", "info") else "page"
    labels = dict(pair.split("=", 1) for pair in pairs)
    return {"alertname": name, "severity": severity, "route": route, **labels}


@pytest.mark.parametrize(
    ("target", "source", "expected"),
    [
        # Same name, higher severity, same tier/topic.
        ("XbmonDTierNewHighFinding high tier=D", "XbmonDTierNewHighFinding critical tier=D", True),
        ("XbmonDTierNewHighFinding critical tier=D", "XbmonDTierNewHighFinding high tier=D", False),
        (
            "XbmonCriticalFindingOpen critical tier=D",
            "XbmonDTierNewHighFinding critical tier=D",
            False,
        ),
        (
            "XbmonConsumerLagHigh medium topic=transfer.logs",
            "XbmonConsumerLagHigh high topic=transfer.logs",
            True,
        ),
        (
            "XbmonConsumerLagHigh medium topic=egress.flows",
            "XbmonConsumerLagHigh high topic=transfer.logs",
            False,
        ),
        (
            "XbmonDeadLetterRateHigh medium topic=egress.flows",
            "XbmonDeadLetterRateHigh high topic=egress.flows",
            True,
        ),
        (
            "XbmonWorkerDown high instance=w1:9464 job=xbmon-worker",
            "XbmonWorkerDown critical",
            True,
        ),
        ("XbmonUndeclaredEgress high", "XbmonCriticalFindingOpen critical tier=D", False),
        # Cause over symptom.
        ("XbmonNoInput high topic=transfer.logs", "XbmonWorkerDown high instance=w1:9464", True),
        ("XbmonConsumerLagHigh high topic=transfer.logs", "XbmonWorkerDown critical", True),
        ("XbmonDeadLetterRateHigh high topic=transfer.logs", "XbmonWorkerDown critical", False),
        ("XbmonStoreWriteFailures high table=findings", "XbmonStoreWriterDown critical", True),
        (
            "XbmonStoreWriteFailures high table=findings",
            "XbmonStoreWriterDown high instance=s1",
            False,
        ),
        ("XbmonNoInput high", "XbmonStoreWriterDown critical", False),
    ],
)
def test_inhibition(target: str, source: str, expected: bool) -> None:
    assert inhibited(alert(target), alert(source)) is expected


def test_every_inhibition_names_real_alerts() -> None:
    names = set(alert_names())
    for rule in load_yaml(ALERTMANAGER_CONFIG)["inhibit_rules"]:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            if matcher.startswith("alertname"):
                value = re.fullmatch(r'alertname=~?"(.*)"', matcher)
                assert value, matcher
                assert set(value[1].split("|")) <= names, matcher

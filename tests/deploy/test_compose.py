"""The server-mode deployment (docker-compose.yml, Dockerfile, deploy/) checked without Docker.

Real validators first: `docker-compose config` (Debian package docker-compose), `promtool check
config` (prometheus) and `amtool check-config` (prometheus-alertmanager). A test skips only when
its tool is not installed, naming the package that provides it; the test command installs all
three (`apt-get install --no-install-recommends docker-compose prometheus prometheus-alertmanager`).

Then the files are read as data (yaml.safe_load, with Compose's `${VAR...}` interpolation done
here) and held against the code: the xbmon services set only real `Settings` fields and build a
valid `Settings`, topic-init creates exactly `pipeline.topics.ALL_TOPICS`, Prometheus scrapes the
port the workers serve, and every secret is a required variable.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from pipeline.settings import Settings
from pipeline.topics import ALL_TOPICS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
ALERTMANAGER_CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources"
TOPICS_SCRIPT = DEPLOY / "kafka" / "create-topics.sh"
GRAFANA_USERS_XML = DEPLOY / "clickhouse" / "users.d" / "grafana.xml"
CLICKHOUSE_CONFIG_XML = DEPLOY / "clickhouse" / "config.d" / "xbmon.xml"

#: The variables Compose must refuse to run without, and throwaway values for them.
SECRETS = {
    "CLICKHOUSE_PASSWORD": "test-writer-secret-1",
    "CLICKHOUSE_GRAFANA_PASSWORD": "test-reader-secret-2",
    "GRAFANA_ADMIN_PASSWORD": "test-admin-secret-3",
}
#: Which Debian package installs each validator.
TOOL_PACKAGES = {
    "docker-compose": "docker-compose",
    "promtool": "prometheus",
    "amtool": "prometheus-alertmanager",
}
XBMON_SERVICES = ("worker", "reference-load")
DATA_VOLUMES = {
    "kafka": "/var/lib/kafka/data",
    "clickhouse": "/var/lib/clickhouse",
    "prometheus": "/prometheus",
    "grafana": "/var/lib/grafana",
}
PINNED_IMAGE = re.compile(
    r"^[a-z0-9][a-z0-9._/-]*:v?\d+(\.\d+)+(-[a-z0-9.]+)?(@sha256:[0-9a-f]{64})?$"
)


# -- reading the compose file -------------------------------------------------------------------


class MissingVariableError(Exception):
    """A `${VAR:?message}` whose variable is unset (or empty)."""


_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_]\w*))"
)


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's variable substitution (${V}, ${V:-d}, ${V-d}, ${V:?e}, ${V?e}, $$) on values."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["name"] or match["bare"]
        op, arg, current = match["op"], match["arg"], env.get(name)
        missing = current is None or (op is not None and op.startswith(":") and current == "")
        if op in (":-", "-"):
            return arg if missing else str(current)
        if op in (":?", "?"):
            if missing:
                raise MissingVariableError(f"{name}: {arg}")
            return str(current)
        return current or ""

    return _VARIABLE.sub(substitute, value)


def load_compose() -> dict[str, Any]:
    """The compose file as written (YAML anchors and merge keys resolved, variables not)."""
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def resolved_compose(**env: str) -> dict[str, Any]:
    """The compose file with its variables substituted from SECRETS plus `env` (nothing else)."""
    resolved = interpolate(load_compose(), {**SECRETS, **env})
    assert isinstance(resolved, dict)
    return resolved


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment as strings, from either the mapping or the list form."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(key): "" if value is None else str(value) for key, value in raw.items()}


def volume_mounts(service: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(source, target) of each short-syntax volume entry."""
    for entry in service.get("volumes", []):
        source, target = entry.split(":")[:2]
        yield source, target


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return resolved_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


# -- the real validators ------------------------------------------------------------------------


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package: {TOOL_PACKAGES[name]})")
    return path


def compose_env(tmp_path: Path, **overrides: str) -> tuple[dict[str, str], Path]:
    """A process environment without any variable the compose file reads, plus `overrides`;
    and an empty env file, so a developer's `.env` cannot change the outcome."""
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    used = {match["name"] or match["bare"] for match in _VARIABLE.finditer(text)} - {None}
    env = {key: value for key, value in os.environ.items() if key not in used}
    env.update(overrides)
    env_file = tmp_path / "empty.env"
    env_file.write_text("", encoding="utf-8")
    return env, env_file


def run_compose(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    process_env, env_file = compose_env(tmp_path, **env)
    return subprocess.run(
        [tool("docker-compose"), "--env-file", str(env_file), "-f", str(COMPOSE_FILE), *args],
        cwd=ROOT,
        env=process_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_docker_compose_config_is_valid(tmp_path: Path) -> None:
    result = run_compose(tmp_path, "config", "-q", **SECRETS)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_docker_compose_refuses_to_run_without_each_secret(tmp_path: Path, secret: str) -> None:
    others = {name: value for name, value in SECRETS.items() if name != secret}
    unset = run_compose(tmp_path, "config", "-q", **others)
    assert unset.returncode != 0
    assert secret in unset.stderr
    empty = run_compose(tmp_path, "config", "-q", **others, **{secret: ""})
    assert empty.returncode != 0
    assert secret in empty.stderr


def test_interpolation_here_matches_docker_compose(tmp_path: Path) -> None:
    """The structural tests below read the file through `interpolate`: same result as Compose."""
    result = run_compose(tmp_path, "config", **SECRETS, XBMON_TOPIC_PARTITIONS="7")
    assert result.returncode == 0, result.stderr
    theirs = yaml.safe_load(result.stdout)["services"]
    ours = resolved_compose(XBMON_TOPIC_PARTITIONS="7")["services"]
    assert set(theirs) == set(ours)
    for name, service in ours.items():
        assert environment(theirs[name]) == environment(service), name
        assert theirs[name].get("image") == service.get("image"), name


def test_promtool_check_config() -> None:
    result = subprocess.run(
        [tool("promtool"), "check", "config", str(PROMETHEUS_CONFIG)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_check_config() -> None:
    result = subprocess.run(
        [tool("amtool"), "check-config", str(ALERTMANAGER_CONFIG)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- services, images, scaling ------------------------------------------------------------------


def test_every_service_has_a_pinned_image(services: dict[str, dict[str, Any]]) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"
    ]
    for name, service in services.items():
        image = str(service.get("image") or "")
        assert image or service.get("build"), f"{name}: neither image nor build"
        if service.get("build"):
            # Built here: tagged with the project's version, so `docker images` says which.
            assert image == f"xbmon:{version}", name
            assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        else:
            assert PINNED_IMAGE.match(image), f"{name}: image {image!r} is not pinned"
        assert not image.endswith(":latest"), name


def test_xbmon_image_is_python_311_slim() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    base = re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert len(base) == 1
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base[0]), base
    assert re.search(r"^USER\s+(?!root)\S+", dockerfile, flags=re.MULTILINE), "runs as root"
    # .dockerignore sends only what the Dockerfile copies (it starts by excluding everything).
    ignore = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ignore[0] == "*"
    for line in re.findall(r"^COPY\s+(.+)$", dockerfile, flags=re.MULTILINE):
        for source in line.split()[:-1]:
            assert f"!{source}" in ignore, f".dockerignore leaves out {source}"


def test_workers_can_scale(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    for key in ("container_name", "ports", "hostname"):
        assert key not in worker, f"worker sets {key}: replicas would collide"
    assert worker["command"][0] == "worker"
    assert services["reference-load"]["command"][:2] == ["reference", "load"]


def test_long_running_services_have_healthchecks(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if service.get("restart") == "no":
            continue
        assert service.get("restart") == "unless-stopped", name
        check = service.get("healthcheck")
        assert check and check.get("test"), f"{name}: no healthcheck"


def test_depends_on_conditions(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for target, spec in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name}: {target} has no healthcheck"
            elif condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", f"{target} is not a one-shot"
    worker = services["worker"]["depends_on"]
    assert worker["kafka"]["condition"] == "service_healthy"
    assert worker["topic-init"]["condition"] == "service_completed_successfully"
    writer = services["store-writer"]["depends_on"]
    assert writer["kafka"]["condition"] == "service_healthy"
    assert writer["clickhouse"]["condition"] == "service_healthy"
    assert writer["topic-init"]["condition"] == "service_completed_successfully"
    assert (
        services["reference-load"]["depends_on"]["topic-init"]["condition"]
        == "service_completed_successfully"
    )
    assert services["topic-init"]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_data_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, target in DATA_VOLUMES.items():
        mounts = dict(volume_mounts(compose["services"][name]))
        sources = [source for source, mounted in mounts.items() if mounted == target]
        assert sources and sources[0] in declared, f"{name}: {target} is not a named volume"


def test_bind_mounts_exist(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for source, _ in volume_mounts(service):
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"


def test_host_ports_bind_loopback_only(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is published to all"


# -- secrets ------------------------------------------------------------------------------------


def test_secrets_are_required_variables() -> None:
    raw = load_compose()["services"]
    seen = set()
    for name, service in raw.items():
        for key, value in environment(service).items():
            if re.search(r"PASSWORD|SECRET|TOKEN", key) and not key.endswith("__FILE"):
                match = re.fullmatch(r"\$\{(\w+):\?[^}]+\}", value)
                assert match, f"{name}: {key} must be ${{VAR:?message}}, not {value!r}"
                seen.add(match[1])
    assert seen == set(SECRETS)


def test_interpolation_refuses_missing_secret() -> None:
    for secret in SECRETS:
        env = {name: value for name, value in SECRETS.items() if name != secret}
        with pytest.raises(MissingVariableError, match=secret):
            interpolate(load_compose(), env)
        with pytest.raises(MissingVariableError, match=secret):
            interpolate(load_compose(), {**env, secret: ""})


def items(document: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair of a YAML document, at any depth."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield str(key), value
            yield from items(value)
    elif isinstance(document, list):
        for value in document:
            yield from items(value)


def test_deploy_files_hold_no_literal_secret() -> None:
    secret = re.compile(r"password|secret|token", re.IGNORECASE)
    for path in DEPLOY.rglob("*.xml"):
        for element in ET.parse(path).iter():
            if secret.search(element.tag):
                assert not (element.text or "").strip(), f"{path}: literal <{element.tag}>"
    for path in DEPLOY.rglob("*.y*ml"):
        for key, value in items(yaml.safe_load(path.read_text(encoding="utf-8"))):
            if secret.search(key) and not key.endswith("_file"):
                # Only references to the environment ($VAR), expanded by the program.
                assert isinstance(value, str) and value.startswith("$"), f"{path}: {key}"


# -- xbmon settings -----------------------------------------------------------------------------


def settings_path_exists(path: list[str]) -> bool:
    """Whether `path` names a field of Settings (nested models walked with each part)."""
    model: type[BaseModel] = Settings
    for index, part in enumerate(path):
        field = model.model_fields.get(part)
        if field is None:
            return False
        if index < len(path) - 1:
            annotation = field.annotation
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


def test_settings_path_check_itself() -> None:
    assert settings_path_exists(["kafka", "bootstrap_servers"])
    assert settings_path_exists(["metrics_port"])
    assert not settings_path_exists(["clickhouse_password"])
    assert not settings_path_exists(["kafka", "bootstrap_server"])
    assert not settings_path_exists(["metrics_port", "x"])


@pytest.mark.parametrize("name", XBMON_SERVICES)
def test_xbmon_variables_are_settings_fields(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    env = environment(services[name])
    assert env
    for key in env:
        assert key.startswith("XBMON_"), f"{name}: {key} is not an xbmon setting"
        path = key.removeprefix("XBMON_").lower().split("__")
        assert settings_path_exists(path), f"{name}: {key} is not a field of Settings"


def settings_of(env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key in list(os.environ):
        if key.startswith("XBMON_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings()


def test_worker_settings(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_of(environment(services["worker"]), monkeypatch)
    assert settings.environment == "production"
    assert settings.mode == "server"
    assert settings.metrics_host == "0.0.0.0"
    writer = settings_of(environment(services["store-writer"]), monkeypatch)
    assert writer.clickhouse.backend == "server"
    assert writer.clickhouse.host in services
    assert writer.clickhouse.password.get_secret_value() == SECRETS["CLICKHOUSE_PASSWORD"]
    clickhouse = environment(services["clickhouse"])
    assert writer.clickhouse.username == clickhouse["CLICKHOUSE_USER"]
    assert writer.clickhouse.database == clickhouse["CLICKHOUSE_DB"]
    for server in settings.kafka.bootstrap_servers.split(","):
        host, _ = server.rsplit(":", 1)
        assert host in services
        assert f"INTERNAL://{server}" in environment(services[host])[
            "KAFKA_ADVERTISED_LISTENERS"
        ].split(",")
    # The port the worker serves is the one its healthcheck, `expose` and Prometheus use.
    metrics_port = settings.metrics_port
    assert str(metrics_port) in services["worker"]["expose"]
    healthcheck = " ".join(services["worker"]["healthcheck"]["test"])
    assert f"127.0.0.1:{metrics_port}/metrics" in healthcheck
    assert metrics_port in worker_scrape_ports()


def test_reference_load_settings(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_of(environment(services["reference-load"]), monkeypatch)
    assert settings.mode == "server"
    worker = settings_of(environment(services["worker"]), monkeypatch)
    assert settings.kafka == worker.kafka


def test_placeholder_password_is_refused_in_the_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    writer = resolved_compose(CLICKHOUSE_PASSWORD="changeme")["services"]["store-writer"]
    with pytest.raises(ValueError, match="placeholder"):
        settings_of(environment(writer), monkeypatch)


# -- topics -------------------------------------------------------------------------------------


def script_topics() -> list[tuple[str, str, str]]:
    """(topic, partitions, cleanup.policy) of each `create` line in the script's table."""
    text = TOPICS_SCRIPT.read_text(encoding="utf-8")
    table = text[text.index("topics() {") : text.index("\n}", text.index("topics() {"))]
    return [
        (match[1], match[2].strip('"'), match[3])
        for match in re.finditer(r"^\s*create\s+(\S+)\s+(\S+)\s+(\S+)\s*$", table, re.MULTILINE)
    ]


def expected_topics(partitions: str) -> dict[str, tuple[str, str]]:
    return {
        spec.name: (
            str(spec.partitions) if spec.partitions is not None else partitions,
            "compact" if spec.compacted else "delete",
        )
        for spec in ALL_TOPICS
    }


def test_topic_table_equals_pipeline_topics() -> None:
    rows = script_topics()
    assert len(rows) == len({name for name, _, _ in rows}), "a topic is listed twice"
    assert {name: (parts, policy) for name, parts, policy in rows} == expected_topics(
        "$TOPIC_PARTITIONS"
    )


@pytest.mark.parametrize("override", [{}, {"XBMON_TOPIC_PARTITIONS": "7"}])
def test_workers_and_topic_init_agree_on_partitions(override: dict[str, str]) -> None:
    services = resolved_compose(**override)["services"]
    init = services["topic-init"]
    assert init["image"] == services["kafka"]["image"]
    assert any(target.endswith("create-topics.sh") for _, target in volume_mounts(init))
    partitions = environment(init)["TOPIC_PARTITIONS"]
    assert partitions == override.get("XBMON_TOPIC_PARTITIONS", "12")
    for name in XBMON_SERVICES:
        assert environment(services[name])["XBMON_KAFKA__PARTITIONS"] == partitions
    kafka = environment(services["kafka"])
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert environment(init)["BOOTSTRAP_SERVERS"] == "kafka:9092"


FAKE_KAFKA_TOPICS = """
import json
import sys
from pathlib import Path

state = Path(sys.argv[0]).with_name("topics.json")
topics = json.loads(state.read_text()) if state.exists() else {}
args = sys.argv[1:]


def option(name):
    return args[args.index(name) + 1]


assert option("--bootstrap-server") == "kafka:9092", args
failures = state.with_name("list-failures")
if "--list" in args and failures.exists() and int(failures.read_text()) > 0:
    failures.write_text(str(int(failures.read_text()) - 1))
    sys.exit("Timed out waiting for a node assignment. Call: listTopics")
if "--list" in args:
    print("\\n".join(sorted(topics)))
elif "--create" in args:
    name = option("--topic")
    assert "--if-not-exists" in args and option("--replication-factor") == "1", args
    if name not in topics:
        policy = option("--config").removeprefix("cleanup.policy=")
        topics[name] = {"partitions": int(option("--partitions")), "policy": policy}
        state.write_text(json.dumps(topics))
        print(f"Created topic {name}.")
elif "--describe" in args:
    for name, topic in sorted(topics.items()):
        configs = f"cleanup.policy={topic['policy']}" if topic["policy"] else ""
        print(
            f"Topic: {name}\\tTopicId: AAAAAAAAAAAAAAAAAAAAAA\\tPartitionCount: "
            f"{topic['partitions']}\\tReplicationFactor: 1\\tConfigs: {configs}"
        )
        for partition in range(topic["partitions"]):
            print(f"\\tTopic: {name}\\tPartition: {partition}\\tLeader: 1\\tReplicas: 1\\tIsr: 1")
else:
    sys.exit(f"unexpected arguments {args}")
"""


@pytest.fixture
def fake_kafka(tmp_path: Path) -> Path:
    """A stand-in for kafka-topics.sh that keeps its topics in topics.json beside itself."""
    script = tmp_path / "kafka-topics.sh"
    script.write_text(f"#!{sys.executable}\n{FAKE_KAFKA_TOPICS}", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def run_topic_init(fake_kafka: Path, partitions: str = "12") -> subprocess.CompletedProcess[str]:
    sh = shutil.which("sh")
    assert sh is not None
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "KAFKA_TOPICS": str(fake_kafka),
        "BOOTSTRAP_SERVERS": "kafka:9092",
        "TOPIC_PARTITIONS": partitions,
        "REPLICATION_FACTOR": "1",
        "RETRY_SECONDS": "0",
        "LIST_ATTEMPTS": "3",
    }
    return subprocess.run(
        [sh, str(TOPICS_SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def fake_state(fake_kafka: Path) -> dict[str, dict[str, Any]]:
    state: dict[str, dict[str, Any]] = json.loads(
        fake_kafka.with_name("topics.json").read_text(encoding="utf-8")
    )
    return state


def test_topic_init_creates_every_topic_once(fake_kafka: Path) -> None:
    first = run_topic_init(fake_kafka)
    assert first.returncode == 0, first.stderr
    created = {
        name: (str(topic["partitions"]), topic["policy"])
        for name, topic in fake_state(fake_kafka).items()
    }
    assert created == expected_topics("12")
    second = run_topic_init(fake_kafka)
    assert second.returncode == 0, second.stderr
    assert "Created topic" not in second.stdout
    assert "xbmon topics ready" in second.stdout


def test_topic_init_waits_for_the_broker(fake_kafka: Path) -> None:
    failures = fake_kafka.with_name("list-failures")
    failures.write_text("2", encoding="utf-8")
    assert run_topic_init(fake_kafka).returncode == 0
    assert set(fake_state(fake_kafka)) == {spec.name for spec in ALL_TOPICS}
    failures.write_text("3", encoding="utf-8")
    result = run_topic_init(fake_kafka)
    assert result.returncode == 1
    assert "after 3 attempts" in result.stderr


def test_topic_init_refuses_mismatched_topics(fake_kafka: Path) -> None:
    state = {
        "transfer.logs": {"partitions": 3, "policy": "delete"},
        "reference.filings": {"partitions": 1, "policy": ""},
        # No explicit policy is the broker default, delete: accepted for a delete topic.
        "findings": {"partitions": 12, "policy": ""},
    }
    fake_kafka.with_name("topics.json").write_text(json.dumps(state), encoding="utf-8")
    result = run_topic_init(fake_kafka)
    assert result.returncode == 1
    assert "topic transfer.logs: 3 partitions, expected 12" in result.stderr
    assert "topic reference.filings: cleanup.policy=delete, expected compact" in result.stderr
    assert "findings" not in result.stderr
    # Existing topics are never altered; the missing ones were created all the same.
    assert fake_state(fake_kafka)["transfer.logs"]["partitions"] == 3
    assert set(fake_state(fake_kafka)) == {spec.name for spec in ALL_TOPICS}


# -- Prometheus, Alertmanager, Grafana, ClickHouse ----------------------------------------------


def prometheus_config() -> dict[str, Any]:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    assert isinstance(config, dict)
    return config


def worker_scrape_ports() -> set[int]:
    ports = set()
    for job in prometheus_config()["scrape_configs"]:
        for sd in job.get("dns_sd_configs", []):
            if sd["names"] == ["worker"]:
                assert sd["type"] == "A"
                ports.add(sd["port"])
    return ports


def test_prometheus_scrapes_workers_itself_and_alerts_to_alertmanager(
    services: dict[str, dict[str, Any]],
) -> None:
    config = prometheus_config()
    assert worker_scrape_ports() == {9464}
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["prometheus"]["static_configs"][0]["targets"] == ["localhost:9090"]
    targets = [
        target
        for manager in config["alerting"]["alertmanagers"]
        for static in manager["static_configs"]
        for target in static["targets"]
    ]
    assert targets == ["alertmanager:9093"]
    assert config["rule_files"] == ["rules/*.yml"]
    assert (PROMETHEUS_CONFIG.parent / "rules").is_dir()
    # Every static target is a service of the stack.
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host = target.split(":")[0]
                assert host == "localhost" or host in services, f"{job['job_name']}: {target}"
    mounts = dict(volume_mounts(services["prometheus"]))
    assert mounts.get("./deploy/prometheus") == "/etc/prometheus"


def test_alertmanager_routes_to_declared_receivers() -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    receivers = {receiver["name"] for receiver in config["receivers"]}
    routes = [config["route"], *config["route"].get("routes", [])]
    assert {route["receiver"] for route in routes} <= receivers


def datasources() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(DATASOURCES.glob("*.y*ml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert document["apiVersion"] == 1, path
        for source in document["datasources"]:
            assert source["uid"] not in found, f"uid {source['uid']} twice"
            found[source["uid"]] = source
    return found


def test_grafana_provisions_prometheus_and_clickhouse(
    services: dict[str, dict[str, Any]],
) -> None:
    sources = {source["type"]: source for source in datasources().values()}
    assert set(sources) == {"prometheus", "grafana-clickhouse-datasource"}
    assert [s["name"] for s in sources.values() if s.get("isDefault")] == ["Prometheus"]

    prometheus = sources["prometheus"]
    assert prometheus["url"] == "http://prometheus:9090"

    clickhouse = sources["grafana-clickhouse-datasource"]["jsonData"]
    assert clickhouse["host"] in services
    assert clickhouse["protocol"] == "native" and clickhouse["port"] == 9000
    assert clickhouse["defaultDatabase"] == environment(services["clickhouse"])["CLICKHOUSE_DB"]
    # Grafana connects as the read-only account, with the password from its environment.
    users = ET.parse(GRAFANA_USERS_XML).getroot()
    account = users.find(f"users/{clickhouse['username']}")
    assert account is not None
    profile = users.find(f"profiles/{account.findtext('profile')}")
    assert profile is not None and profile.findtext("readonly") == "1"
    password = account.find("password")
    assert password is not None
    password_var = password.get("from_env")
    assert password_var in environment(services["clickhouse"])
    reference = sources["grafana-clickhouse-datasource"]["secureJsonData"]["password"]
    assert reference == f"${password_var}"
    assert password_var in environment(services["grafana"])

    grafana = environment(services["grafana"])
    assert re.fullmatch(
        r"grafana-clickhouse-datasource \d+\.\d+\.\d+", grafana["GF_INSTALL_PLUGINS"]
    )
    assert services["grafana"]["image"].startswith("grafana/grafana:")  # the OSS image
    mounts = dict(volume_mounts(services["grafana"]))
    assert mounts.get("./deploy/grafana/provisioning") == "/etc/grafana/provisioning"


def test_clickhouse_exposes_metrics_where_prometheus_scrapes() -> None:
    config = ET.parse(CLICKHOUSE_CONFIG_XML).getroot()
    port = config.findtext("prometheus/port")
    jobs = {job["job_name"]: job for job in prometheus_config()["scrape_configs"]}
    assert jobs["clickhouse"]["static_configs"][0]["targets"] == [f"clickhouse:{port}"]

"""The deployment files say what the code really serves and reads.

No container engine runs here, so each file is parsed and held against the app: probe paths are
routes, ports agree, every environment variable is one the service reads, and every metric a
dashboard or alert uses is one /metrics exports.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from app.config import DefaultConfig
from app.entrypoints.cli import main
from harness import REPO_ROOT
from tests.conftest import SEED_FILE

DEPLOY = REPO_ROOT / "deploy"
READ_ELSEWHERE = {"PORT", "HOST", "SENTRY_DSN", "PROMETHEUS_MULTIPROC_DIR", "GUNICORN_CMD_ARGS"}
PYTHON_ITSELF = {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"}
KNOWN_SETTINGS = {
    f"ACCOUNTS_{name}" for name in dir(DefaultConfig) if name.isupper()
} | READ_ELSEWHERE


def manifests() -> dict[str, dict[str, Any]]:
    """The service's manifests by kind; the worker's Deployment is `Deployment/worker`."""
    found = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            is_worker = document["metadata"]["name"] == "accounts-service-worker"
            found[f"{document['kind']}/worker" if is_worker else document["kind"]] = document
    return found


def routes() -> set[str]:
    app = create_app({"SEED_DATA": str(SEED_FILE)})
    return {rule.rule for rule in app.url_map.iter_rules()}


def default_port() -> str:
    """The port gunicorn.conf.py binds with no PORT set; read in a child process, because loading
    the configuration also sets PROMETHEUS_MULTIPROC_DIR, which must not leak into this one."""
    env = {name: value for name, value in os.environ.items() if name != "PORT"}
    bind = subprocess.run(
        [sys.executable, "-c", "import runpy; print(runpy.run_path('gunicorn.conf.py')['bind'])"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return bind.rsplit(":", 1)[1]


def test_every_manifest_is_valid_yaml_of_the_expected_kinds() -> None:
    assert set(manifests()) == {
        "Deployment",
        "Deployment/worker",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    listed = {Path(resource).name for resource in kustomization["resources"]}
    assert listed == {path.name for path in (DEPLOY / "k8s").glob("*.yaml")}


def test_the_worker_deployment_runs_the_worker_command_with_known_settings() -> None:
    [worker] = manifests()["Deployment/worker"]["spec"]["template"]["spec"]["containers"]
    command = worker["command"]
    assert command[:2] == ["accounts-service", "worker"]
    assert main.get_command(None, "worker") is not None  # type: ignore[arg-type]
    assert set(env_of(worker)) <= KNOWN_SETTINGS
    assert {"ACCOUNTS_DATABASE_URL", "ACCOUNTS_BROKER_URL", "ACCOUNTS_TOKEN_KEY"} <= set(
        env_of(worker)
    )
    assert worker["ports"][0]["containerPort"] == 9191
    scaled = yaml.safe_load((DEPLOY / "keda" / "worker-scaledobject.yaml").read_text())
    assert scaled["spec"]["scaleTargetRef"]["name"] == "accounts-service-worker"
    assert scaled["spec"]["triggers"][0]["metadata"]["queueName"] == DefaultConfig.BROKER_QUEUE


TEMPLATE = DEPLOY / "nginx" / "nginx.conf.template"


def placeholders() -> set[str]:
    """The variables the proxy's template needs filled in (nginx's own are lower case)."""
    return set(re.findall(r"\$\{([A-Z_]+)\}", TEMPLATE.read_text()))


def containers() -> dict[str, dict[str, Any]]:
    spec = manifests()["Deployment"]["spec"]["template"]["spec"]
    return {container["name"]: container for container in spec["containers"]}


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value") for item in container["env"]}


def test_the_deployment_puts_the_buffering_proxy_in_front_of_gunicorn() -> None:
    found = containers()
    proxy, app = found["proxy"], found["accounts-service"]
    proxy_env, app_env = env_of(proxy), env_of(app)
    ports = {port["name"]: port["containerPort"] for port in proxy["ports"]}
    # The pod's port is nginx's, on the port the service would otherwise have; gunicorn binds
    # the pod's loopback only, where nginx sends every request.
    assert str(ports["http"]) == proxy_env["PORT"] == default_port()
    assert "ports" not in app
    assert app_env["HOST"] == "127.0.0.1"
    assert proxy_env["UPSTREAM"] == f"127.0.0.1:{app_env['PORT']}"
    assert placeholders() == {"PORT", "UPSTREAM"} <= set(proxy_env)
    # The image renders the mounted template into NGINX_ENVSUBST_OUTPUT_DIR; nginx reads it there.
    assert proxy["command"][:3] == [
        "nginx",
        "-c",
        f"{proxy_env['NGINX_ENVSUBST_OUTPUT_DIR']}/nginx.conf",
    ]
    [mount] = proxy["volumeMounts"]
    assert mount["mountPath"] == "/etc/nginx/templates"
    volumes = manifests()["Deployment"]["spec"]["template"]["spec"]["volumes"]
    [volume] = [volume for volume in volumes if volume["name"] == mount["name"]]
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    [generated] = kustomization["configMapGenerator"]
    assert volume["configMap"]["name"] == generated["name"]
    assert generated["files"] == ["nginx/nginx.conf.template"]
    for resource in kustomization["resources"]:
        assert (DEPLOY / resource).exists()
    # Behind nginx, which replaces X-Forwarded-For, exactly one proxy is trusted.
    assert app_env["ACCOUNTS_TRUSTED_PROXIES"] == "1"


def test_the_deployment_probes_routes_that_exist_on_the_port_served() -> None:
    deployment = manifests()["Deployment"]
    container = containers()["accounts-service"]
    env = env_of(container)
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert {"/readyz", "/healthz"} <= routes()
    assert set(env) <= KNOWN_SETTINGS, set(env) - KNOWN_SETTINGS
    assert container["resources"]["requests"]
    # A container sees every core of its node; the workers follow its CPU limit instead.
    assert env["GUNICORN_CMD_ARGS"] == f"--workers {container['resources']['limits']['cpu']}"
    # Long enough for gunicorn's graceful shutdown (its default graceful timeout is 30 s).
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > 30


def test_service_hpa_and_pdb_point_at_the_deployment() -> None:
    found = manifests()
    deployment = found["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert found["Service"]["spec"]["selector"] == labels
    assert found["Service"]["spec"]["ports"][0]["targetPort"] == "http"
    assert found["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == labels
    target = found["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])


def test_the_dockerfile_serves_as_a_non_root_user_with_a_healthcheck() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    assert re.search(r"^USER accounts$", dockerfile, re.M)
    assert f"EXPOSE {default_port()}" in dockerfile
    assert "/healthz" in dockerfile
    assert "/healthz" in routes()
    assert 'CMD ["accounts-service", "run"]' in dockerfile
    env_names = set(re.findall(r"^\s+(\w+)=", dockerfile.split("WORKDIR")[0], re.M))
    assert env_names <= KNOWN_SETTINGS | PYTHON_ITSELF, env_names


def test_compose_wires_known_settings_and_real_commands() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {
        "migrate",
        "accounts",
        "proxy",
        "postgres",
        "postgres-standby",
        "redis",
        "prometheus",
        "grafana",
        "worker",
        "sandbox",
        "rabbitmq",
    }
    for name in ("migrate", "accounts", "worker", "sandbox"):
        assert set(services[name]["environment"]) <= KNOWN_SETTINGS
    proxy, accounts = services["proxy"], services["accounts"]
    assert proxy["network_mode"] == "service:accounts"
    assert placeholders() <= set(proxy["environment"])
    assert proxy["environment"]["UPSTREAM"] == f"127.0.0.1:{accounts['environment']['PORT']}"
    assert accounts["ports"] == [f"{default_port()}:{proxy['environment']['PORT']}"]
    assert proxy["volumes"] == ["./nginx:/etc/nginx/templates:ro"]
    command = services["migrate"]["command"]
    assert command[0] == "accounts-service"
    assert main.get_command(None, command[1]) is not None  # type: ignore[arg-type]
    assert command[1:] == ["db", "upgrade"]
    for name in ("worker", "sandbox"):
        command = services[name]["command"]
        assert command[0] == "accounts-service"
        assert main.get_command(None, command[1]) is not None  # type: ignore[arg-type]


#: The settings every process that writes accounts must share, or a write of one would leave
#: cached lists stale for the others (app/adapters/storage/revisions.py).
REVISION_SETTINGS = ("ACCOUNTS_REDIS_URL", "ACCOUNTS_REVISIONS", "ACCOUNTS_REVISIONS_NAMESPACE")


def test_the_service_and_its_workers_share_one_revision_board() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    worker = manifests()["Deployment/worker"]["spec"]["template"]["spec"]["containers"][0]
    writers = {
        "compose accounts": compose["accounts"]["environment"],
        "compose worker": compose["worker"]["environment"],
        "kubernetes service": env_of(containers()["accounts-service"]),
        "kubernetes worker": env_of(worker),
    }
    boards = {
        name: tuple(env.get(setting) for setting in REVISION_SETTINGS)
        for name, env in writers.items()
    }
    assert set(boards.values()) == {("redis://redis:6379/0", "redis", None)}, boards


def test_the_redis_cluster_profiles_give_the_service_and_its_workers_one_cluster() -> None:
    override = yaml.safe_load((DEPLOY / "compose.redis-cluster.yaml").read_text())["services"]
    component = DEPLOY / "components" / "redis-cluster"
    patches = yaml.safe_load((component / "kustomization.yaml").read_text())["patches"]
    patched = [
        container["env"][0]
        for patch in patches
        for container in yaml.safe_load(patch["patch"])["spec"]["template"]["spec"]["containers"]
    ]
    urls = {override[name]["environment"]["ACCOUNTS_REDIS_URL"] for name in ("accounts", "worker")}
    assert len(urls) == 1
    assert next(iter(urls)).startswith("redis+cluster://")
    assert {entry["name"] for entry in patched} == {"ACCOUNTS_REDIS_URL"}
    assert len(patched) == 2
    assert len({entry["value"] for entry in patched}) == 1
    assert patched[0]["value"].startswith("redis+cluster://")
    kinds = {
        document["kind"]
        for document in yaml.safe_load_all((component / "redis-cluster.yaml").read_text())
    }
    assert kinds == {"Service", "StatefulSet", "Job"}


def test_the_service_reads_a_standby_with_revisions_on_redis() -> None:
    """Replicas need the board (app/adapters/storage/replicas.py), in compose and Kubernetes."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    service = compose["accounts"]["environment"]
    assert "postgres-standby" in service["ACCOUNTS_READ_REPLICA_URL"]
    assert "pg_basebackup" in compose["postgres-standby"]["command"][0]
    kubernetes = {variable["name"] for variable in containers()["accounts-service"]["env"]}
    assert "ACCOUNTS_READ_REPLICA_URL" in kubernetes
    for env in (service, env_of(containers()["accounts-service"])):
        assert env["ACCOUNTS_REVISIONS"] == "redis"


@pytest.fixture
def exported_metrics(client: FlaskClient) -> set[str]:
    client.get("/users/user123/accounts")
    text = client.get("/metrics").get_data(as_text=True)
    return {family.name for family in text_string_to_metric_families(text)}


def queries() -> list[str]:
    dashboard = json.loads(
        (DEPLOY / "grafana" / "dashboards" / "accounts-service.json").read_text()
    )
    from_dashboard = [
        target["expr"] for panel in dashboard["panels"] for target in panel["targets"]
    ]
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    from_alerts = [rule["expr"] for group in alerts["groups"] for rule in group["rules"]]
    return from_dashboard + from_alerts


def test_dashboards_and_alerts_use_metrics_and_routes_that_exist(
    exported_metrics: set[str],
) -> None:
    used = {
        re.sub(r"_(bucket|count|sum|total)$", "", name)
        for query in queries()
        for name in re.findall(r"\baccounts_[a-z_]+", query)
    }
    exported = {re.sub(r"_total$", "", name) for name in exported_metrics}
    assert used
    assert used <= exported, used - exported
    labelled_routes = {
        route for query in queries() for route in re.findall(r'route="([^"]+)"', query)
    }
    assert labelled_routes <= routes()
    names = {
        rule["alert"]
        for group in yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    }
    assert {
        "AccountsErrorRatioHigh",
        "AccountsLatencyP99High",
        "AccountsNotReady",
        "AccountsSyncsFailing",
        "AccountsSyncsStale",
    } <= names


def test_prometheus_scrapes_the_metrics_route(exported_metrics: set[str]) -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    job, worker = config["scrape_configs"]
    assert worker["static_configs"][0]["targets"] == ["worker:9191"]
    assert job["metrics_path"] == "/metrics" in routes()
    assert job["static_configs"][0]["targets"] == [f"accounts:{default_port()}"]
    assert config["rule_files"] == ["alerts.yml"]
    assert Path(DEPLOY / "prometheus" / "alerts.yml").exists()

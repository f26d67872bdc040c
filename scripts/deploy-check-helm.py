"""Helm lint and template for scripts/deploy-check, with Helm's own Go engine.

No helm binary can be installed on our machines (no Go toolchain or module proxy), so this
drives the Helm v4 SDK through helm-python-sdk (its libhelm_c bundles the SDK): `lint` is
`helm lint --strict`, `Config.install(dry_run="client")` is what `helm template` runs, and
`Chart.render` gives every template's output, hooks included, for the schema check that
follows. The GitHub workflow runs the real `helm lint`/`helm template` and kubeconform.

Usage: deploy-check-helm.py CHART OUT_DIR NAME=VALUES_FILE|- ...
Writes OUT_DIR/NAME/*.yaml (one file per Kubernetes object) and OUT_DIR/NAME/env.json
(the TENANTBASE_*/DATABASE_URL variables the pods get from the ConfigMap and the pod spec).
"""

import json
import pathlib
import sys

import helm_python as helm
import yaml

KUBE_VERSION = "v1.30.0"
WARNING = 2  # lint severities: 1 info, 2 warning, 3 error


def fail(message: str) -> None:
    print(f"deploy-check-helm: {message}", file=sys.stderr)
    sys.exit(1)


def lint(chart_dir: str, name: str, values: dict | None) -> None:
    report = helm.lint(chart_dir, values, strict=True, kube_version=KUBE_VERSION)
    problems = [m for m in report["messages"] if m["severity"] >= WARNING]
    if report["errors"] or problems:
        fail(f"helm lint ({name}): {report['errors']} {problems}")
    print(f"helm lint --strict ({name}): ok, {len(report['messages'])} info message(s)")


def template(chart_dir: str, name: str, values: dict | None, out: pathlib.Path) -> dict:
    chart = helm.Chart.load(chart_dir)
    # `helm template`: a client-only dry-run install (checks kubeVersion, parses manifests).
    release = helm.Config(namespace="tenantbase").install(
        chart, "tenantbase", values, dry_run="client", namespace="tenantbase"
    )
    if not release.get("manifest"):
        fail(f"helm template ({name}) rendered nothing")
    rendered = chart.render(values, name="tenantbase", namespace="tenantbase", is_install=True)
    out.mkdir(parents=True, exist_ok=True)
    objects = []
    for template_path, text in sorted(rendered.items()):
        if template_path.endswith("NOTES.txt"):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                objects.append(document)
    kinds = {}
    for index, document in enumerate(objects):
        kind = document["kind"]
        kinds[kind] = document
        (out / f"{index:02d}-{kind.lower()}.yaml").write_text(yaml.safe_dump(document))
    print(f"helm template ({name}): {', '.join(sorted(kinds))}")
    return kinds


def pod_env(kinds: dict) -> dict:
    """The variables a tenantbase pod starts with (ConfigMap, then the container's env)."""
    env = dict(kinds["ConfigMap"].get("data", {}))
    container = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    for item in container.get("env", []):
        env[item["name"]] = item["value"]
    return env


def expect_refusal(chart_dir: str) -> None:
    """The chart refuses an embedded (SQLite on one volume) release with several replicas."""
    chart = helm.Chart.load(chart_dir)
    try:
        chart.render({"replicaCount": 3}, name="tenantbase", namespace="tenantbase")
    except helm.HelmError as error:
        if "allows one replica only" not in str(error):
            fail(f"unexpected render error: {error}")
        print("helm template (embedded, 3 replicas): refused, as it must be")
        return
    fail("the chart rendered 3 replicas on one ReadWriteOnce SQLite volume")


def main() -> None:
    if len(sys.argv) < 4:
        fail(__doc__.split("\n\n")[2])
    chart_dir, out_dir = sys.argv[1], pathlib.Path(sys.argv[2])
    for spec in sys.argv[3:]:
        name, _, values_file = spec.partition("=")
        values = None if values_file == "-" else yaml.safe_load(pathlib.Path(values_file).read_text())
        lint(chart_dir, name, values)
        kinds = template(chart_dir, name, values, out_dir / name)
        (out_dir / name / "env.json").write_text(json.dumps(pod_env(kinds), indent=2))
    expect_refusal(chart_dir)


if __name__ == "__main__":
    main()

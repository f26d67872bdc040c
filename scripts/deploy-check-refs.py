"""Checks for scripts/deploy-check that no off-the-shelf validator covers.

  argocd FILE                      the Application syncs automatically (prune, selfHeal,
                                   CreateNamespace) from a chart path and value files
                                   that exist in this repository
  compose-env FILE SERVICE         prints the service's environment (NAME=VALUE lines,
                                   `${VAR:-default}` resolved to its default)
  dashboard FILE RULES_OUT         checks the Grafana dashboard's structure and writes its
                                   queries as recording rules, for `promtool check rules`
  metric-names METRICS FILE...     every metric the alert rules or dashboard query is one
                                   the server exported in METRICS (a /metrics scrape)
  runbook-links RULES              every alert's `runbook` annotation names a file and a
                                   heading that exist
"""

import json
import pathlib
import re
import sys

import yaml


def fail(message: str) -> None:
    print(f"deploy-check: {message}", file=sys.stderr)
    sys.exit(1)


def argocd(path: str) -> None:
    app = yaml.safe_load(pathlib.Path(path).read_text())
    if app.get("apiVersion") != "argoproj.io/v1alpha1" or app.get("kind") != "Application":
        fail(f"{path}: not an Argo CD Application")
    sync = app["spec"].get("syncPolicy", {})
    automated = sync.get("automated") or {}
    if not (automated.get("prune") is True and automated.get("selfHeal") is True):
        fail(f"{path}: syncPolicy.automated needs prune: true and selfHeal: true")
    if "CreateNamespace=true" not in sync.get("syncOptions", []):
        fail(f"{path}: syncOptions needs CreateNamespace=true")
    source = app["spec"]["source"]
    chart = pathlib.Path(source["path"])
    if not (chart / "Chart.yaml").is_file():
        fail(f"{path}: source.path {chart} is not a chart in this repository")
    for values in source.get("helm", {}).get("valueFiles", []):
        if not (chart / values).is_file():
            fail(f"{path}: value file {chart / values} does not exist")
    print(f"argocd: {path} ok (automated sync, prune, selfHeal, CreateNamespace; chart {chart})")


def compose_env(path: str, service: str) -> None:
    environment = yaml.safe_load(pathlib.Path(path).read_text())["services"][service]["environment"]
    default = re.compile(r"\$\{[A-Z_]+:-([^}]*)\}")
    for name, value in environment.items():
        print(f"{name}={default.sub(lambda m: m.group(1), str(value))}")


def dashboard(path: str, rules_out: str) -> None:
    board = json.loads(pathlib.Path(path).read_text())
    for key in ("title", "uid", "panels", "schemaVersion"):
        if key not in board:
            fail(f"{path}: no `{key}`")
    ids = [panel["id"] for panel in board["panels"]]
    if len(ids) != len(set(ids)):
        fail(f"{path}: panel ids repeat")
    variables = {v["name"] for v in board.get("templating", {}).get("list", [])}
    rules = []
    for panel in board["panels"]:
        grid = panel["gridPos"]
        if grid["x"] + grid["w"] > 24:
            fail(f"{path}: panel {panel['title']!r} is wider than the grid")
        if panel["type"] == "row":
            continue
        if panel["datasource"]["uid"] != "${datasource}":
            fail(f"{path}: panel {panel['title']!r} does not use the datasource variable")
        if not panel.get("targets"):
            fail(f"{path}: panel {panel['title']!r} has no query")
        for target in panel["targets"]:
            expr = target["expr"]
            for used in re.findall(r"\$(\w+)", expr):
                if used not in variables and not used.startswith("__"):
                    fail(f"{path}: panel {panel['title']!r} uses undefined ${used}")
            # Grafana's variables as PromQL promtool can parse.
            concrete = (
                expr.replace("$__rate_interval", "5m").replace("$job", ".*").replace("$instance", ".*")
            )
            rules.append({"record": f"dashboard:panel_{panel['id']}_{target['refId']}", "expr": concrete})
    pathlib.Path(rules_out).write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    print(f"dashboard: {path} ok ({len(board['panels'])} panels, {len(rules)} queries)")


# Words in PromQL that are not metric names.
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "rate", "increase", "irate", "by", "on", "and", "or",
    "unless", "ignoring", "without", "histogram_quantile", "le", "job", "instance", "route",
    "status", "state", "kind", "outcome", "method", "backend", "up", "bool",
}


def metric_names(metrics_path: str, files: list[str]) -> None:
    exported = set()
    for line in pathlib.Path(metrics_path).read_text().splitlines():
        if line and not line.startswith("#"):
            name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
            exported.add(name)
    if not exported:
        fail(f"{metrics_path}: no metrics")
    queries = []
    for path in files:
        text = pathlib.Path(path).read_text()
        if path.endswith(".json"):
            queries += [t["expr"] for p in json.loads(text)["panels"] for t in p.get("targets", [])]
        else:
            queries += [r["expr"] for g in yaml.safe_load(text)["groups"] for r in g["rules"]]
    missing = set()
    for query in queries:
        # Drop label matchers, strings and durations; what is left are names and keywords.
        bare = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]', " ", query)
        for word in re.findall(r"\b[a-z_][a-z0-9_]*\b", bare):
            if word in PROMQL_WORDS or word in exported:
                continue
            missing.add(word)
    if missing:
        fail(f"queried but not exported by the server: {', '.join(sorted(missing))}")
    print(f"metric names: {len(queries)} queries use only exported metrics ({len(exported)} exported)")


def anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")


def runbook_links(rules_path: str) -> None:
    rules = [r for g in yaml.safe_load(pathlib.Path(rules_path).read_text())["groups"] for r in g["rules"]]
    for rule in rules:
        link = rule.get("annotations", {}).get("runbook")
        if not link:
            fail(f"{rules_path}: alert {rule['alert']} has no runbook annotation")
        file, _, fragment = link.partition("#")
        page = pathlib.Path(file)
        if not page.is_file():
            fail(f"{rules_path}: {rule['alert']}'s runbook {file} does not exist")
        headings = {anchor(line.lstrip("#")) for line in page.read_text().splitlines() if line.startswith("#")}
        if fragment and fragment not in headings:
            fail(f"{rules_path}: {rule['alert']}'s runbook has no heading #{fragment}")
    print(f"runbook links: {len(rules)} alerts link existing runbook sections")


def main() -> None:
    commands = {
        "argocd": lambda a: argocd(*a),
        "compose-env": lambda a: compose_env(*a),
        "dashboard": lambda a: dashboard(*a),
        "metric-names": lambda a: metric_names(a[0], a[1:]),
        "runbook-links": lambda a: runbook_links(*a),
    }
    if len(sys.argv) < 3 or sys.argv[1] not in commands:
        fail(__doc__)
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()

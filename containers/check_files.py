"""The structure checks of containers/check.sh: what the linters do not know.

Dockerfiles (dockerfile-parse): stages, a non-root USER and ENTRYPOINT trainrt
in the final stage, COPY sources that exist. Compose files (as
`docker-compose config` resolved them): GPU services have shared memory,
memlock and a healthcheck on the ports their command serves; scripts they run
exist; Prometheus scrapes those ports. Grafana: provisioning and dashboard
agree, every metric a panel queries is documented (docs/*.md) or emitted
(runtime/); the panels' PromQL goes to a rules file for `promtool check rules`.
Not a test of the images or of a running stack: nothing here builds or starts
a container.

usage: check_files.py REPO RESOLVED_COMPOSE.yml... --rules-out FILE
"""
import argparse
import glob
import json
import os
import re
import sys

import yaml
from dockerfile_parse import DockerfileParser

failures = []
passed = []


def check(cond, what):
    (passed if cond else failures).append(what)
    if not cond:
        print(f"FAIL: {what}")
    return cond


# --- Dockerfiles ---

def stages(path):
    """[(from_value, [instructions])] per FROM, instructions as dicts of dockerfile-parse."""
    with open(path, "rb") as f:
        structure = DockerfileParser(fileobj=f).structure
    out = []
    for ins in structure:
        if ins["instruction"] == "FROM":
            out.append((ins["value"], []))
        elif out and ins["instruction"] != "COMMENT":
            out[-1][1].append(ins)
    return out


def check_dockerfile(repo, path, multi_stage):
    name = os.path.relpath(path, repo)
    st = stages(path)
    check(len(st) >= (2 if multi_stage else 1), f"{name}: {len(st)} stage(s)" + (" (multi-stage)" if multi_stage else ""))
    final = st[-1][1]
    users = [i["value"].strip() for i in final if i["instruction"] == "USER"]
    check(users and users[-1].split(":")[0] not in ("root", "0"),
          f"{name}: the final stage runs as a non-root USER ({users[-1] if users else 'none'})")
    entry = [i["value"].strip() for i in final if i["instruction"] == "ENTRYPOINT"]
    try:
        entry_ok = bool(entry) and json.loads(entry[-1]) == ["trainrt"]
    except ValueError:
        entry_ok = False
    check(entry_ok, f"{name}: ENTRYPOINT [\"trainrt\"] (exec form) in the final stage")
    for _, instructions in st:
        for ins in instructions:
            if ins["instruction"] not in ("COPY", "ADD"):
                continue
            words = [w for w in ins["value"].split() if not w.startswith("--")]
            if "--from=" in ins["value"] or not words or words[0].startswith("http"):
                continue
            for src in words[:-1]:
                check(bool(glob.glob(os.path.join(repo, src))), f"{name}:{ins['startline'] + 1}: COPY source {src} exists")
    if multi_stage:
        copies = [i["value"] for i in final if i["instruction"] == "COPY" and "--from=" in i["value"]]
        check(any("/opt/trainrt" in c for c in copies), f"{name}: the final stage copies the installed /opt/trainrt from a build stage")
        runs = " ".join(i["value"] for i in final if i["instruction"] == "RUN")
        check("nvcc" not in runs and not re.search(r"[a-z0-9]-dev\b", runs),
              f"{name}: the final stage installs no compiler or -dev package")
    ignore = path + ".dockerignore"
    check(os.path.exists(ignore) and "build*/" in open(ignore).read(),
          f"{name}: {os.path.basename(ignore)} keeps build trees out of the context")


# --- compose ---

def arg_after(cmd, flag):
    return cmd[cmd.index(flag) + 1] if flag in cmd and cmd.index(flag) + 1 < len(cmd) else None


def gpu_devices(service):
    devices = (((service.get("deploy") or {}).get("resources") or {}).get("reservations") or {}).get("devices") or []
    return [d for d in devices if "gpu" in (d.get("capabilities") or [])]


def served_ports(cmd):
    """The ports a trainrt command serves HTTP on: metrics ports per local rank, or serve's port."""
    if not cmd:
        return []
    if cmd[0] == "serve":
        return [int(arg_after(cmd, "--port") or 8080)]
    port = arg_after(cmd, "--metrics-port")
    if port is None:
        return []
    ranks = int(arg_after(cmd, "--nproc-per-node") or 1) if cmd[0] == "launch" else 1
    return [int(port) + r for r in range(ranks)]


def prometheus_targets(repo):
    with open(os.path.join(repo, "containers/monitoring/prometheus.yml")) as f:
        config = yaml.safe_load(f)
    return {t for job in config["scrape_configs"] for sc in job.get("static_configs", []) for t in sc["targets"]}


def check_compose(repo, resolved_path, targets):
    name = os.path.basename(resolved_path)
    with open(resolved_path) as f:
        config = yaml.safe_load(f)
    services = config["services"]
    claimed = {}
    for sname, s in services.items():
        where = f"{name}: {sname}"
        gpus = gpu_devices(s)
        trainrt = "trainrt" in str(s.get("image", "")) or "Dockerfile.cuda" in str((s.get("build") or {}).get("dockerfile", ""))
        if not trainrt:
            continue
        cmd = [str(c) for c in (s.get("command") or [])]
        check(bool(gpus), f"{where}: reserves GPUs (deploy.resources.reservations.devices, driver nvidia)")
        for d in gpus:
            check(d.get("driver") == "nvidia" and (d.get("count") is not None or d.get("device_ids")),
                  f"{where}: GPU reservation names a count or device_ids")
            for dev in d.get("device_ids") or []:
                check(dev not in claimed, f"{where}: GPU {dev} is not also reserved by {claimed.get(dev)}")
                claimed[dev] = sname
        memlock = (s.get("ulimits") or {}).get("memlock")
        check(memlock in (-1, "-1") or (isinstance(memlock, dict) and memlock.get("soft") == -1 and memlock.get("hard") == -1),
              f"{where}: ulimits memlock -1")
        if cmd[:1] == ["launch"]:
            check("shm_size" in s or s.get("ipc") == "host", f"{where}: shm_size (or ipc: host) for NCCL between ranks")
        for arg in cmd:
            if arg.endswith(".lua"):
                check(os.path.exists(os.path.join(repo, arg)), f"{where}: {arg} exists (the image has the repo's examples/ in /workspace)")
        ports = served_ports(cmd)
        health = [str(t) for t in ((s.get("healthcheck") or {}).get("test") or [])]
        check(health[:2] == ["CMD", "trainrt-healthcheck"] and sorted(int(p) for p in health[2:]) == ports,
              f"{where}: healthcheck asks every served port {ports} for /healthz (has {health[2:]})")
        if "--metrics-port" in cmd:
            check("metrics.host=0.0.0.0" in cmd, f"{where}: metrics listen on 0.0.0.0 (--set metrics.host=0.0.0.0), reachable by Prometheus")
        if cmd[:1] == ["serve"]:
            check(arg_after(cmd, "--host") == "0.0.0.0", f"{where}: serve listens on 0.0.0.0")
            published = [str(p.get("target")) if isinstance(p, dict) else str(p).split(":")[-1] for p in s.get("ports") or []]
            check(str(ports[0]) in published, f"{where}: port {ports[0]} is published")
        for p in ports:
            check(f"{sname}:{p}" in targets, f"{where}: Prometheus scrapes {sname}:{p}")
    for mon in ("prometheus", "grafana"):
        check(mon in services and "monitoring" in (services[mon].get("profiles") or []),
              f"{name}: {mon} is in the monitoring profile")
    prom_mounts = " ".join(str(v) for v in services.get("prometheus", {}).get("volumes", []))
    check("containers/monitoring/prometheus.yml" in prom_mounts, f"{name}: prometheus mounts containers/monitoring/prometheus.yml")
    return services


# --- Grafana ---

def documented_or_emitted(repo):
    text = ""
    for pattern in ("docs/*.md", "runtime/**/*.cpp", "runtime/**/*.h"):
        for path in glob.glob(os.path.join(repo, pattern), recursive=True):
            with open(path, errors="replace") as f:
                text += f.read()
    return set(re.findall(r"\btrainrt_[a-z0-9_]+", text))


def check_grafana(repo, services, rules_out):
    base = os.path.join(repo, "containers/monitoring/grafana")
    uids = set()
    for path in glob.glob(os.path.join(base, "provisioning/datasources/*.yml")):
        with open(path) as f:
            for ds in yaml.safe_load(f).get("datasources", []):
                uids.add(ds.get("uid"))
                check(ds.get("url") == "http://prometheus:9090", f"grafana datasource {ds.get('name')} points at the prometheus service")
    dash_paths = set()
    for path in glob.glob(os.path.join(base, "provisioning/dashboards/*.yml")):
        with open(path) as f:
            for p in yaml.safe_load(f).get("providers", []):
                dash_paths.add(p["options"]["path"])
    mounts = " ".join(str(v) for v in services.get("grafana", {}).get("volumes", []))
    for p in dash_paths:
        check(f"containers/monitoring/grafana/dashboards:{p}" in mounts, f"grafana mounts the dashboards at the provider's path {p}")
    known = documented_or_emitted(repo)
    exprs = []
    for path in sorted(glob.glob(os.path.join(base, "dashboards/*.json"))):
        name = os.path.relpath(path, repo)
        with open(path) as f:
            dash = json.load(f)  # a parse error fails the check with its line
        check(True, f"{name}: valid JSON")
        panels = dash.get("panels", [])
        ids = [p.get("id") for p in panels]
        check(len(ids) == len(set(ids)), f"{name}: panel ids are unique")
        for p in panels:
            for t in p.get("targets", []):
                uid = (t.get("datasource") or p.get("datasource") or {}).get("uid")
                check(uid in uids, f"{name}: panel '{p.get('title')}' queries a provisioned datasource ({uid})")
                exprs.append((f"{p.get('title')} {t.get('refId')}", t["expr"]))
        for var in dash.get("templating", {}).get("list", []):
            q = var.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            m = re.match(r"label_values\((.*),\s*\w+\)$", q or "")
            if m:
                exprs.append((f"variable {var['name']}", m.group(1)))
    used = set()
    for _, e in exprs:
        for metric in re.findall(r"\btrainrt_[a-z0-9_]+", e):
            used.add(re.sub(r"_(bucket|sum|count)$", "", metric))
    unknown = sorted(m for m in used if m not in known)
    check(not unknown, f"dashboards: all {len(used)} trainrt metrics queried are documented or emitted" +
          (f"; unknown: {', '.join(unknown)}" if unknown else ""))
    # Grafana's variables replaced by values, so promtool parses what Prometheus will get.
    rules = []
    for i, (title, e) in enumerate(exprs):
        e = e.replace("$__rate_interval", "1m").replace("$__interval", "1m")
        e = re.sub(r"\$\{?(\w+)\}?", "x", e)
        rules.append({"record": f"dashboard:expr_{i}", "expr": e})
    with open(rules_out, "w") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard-expressions", "rules": rules}]}, f, sort_keys=False)
    print(f"check_files: {len(rules)} dashboard expressions written to {rules_out} for promtool")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("repo")
    ap.add_argument("resolved", nargs="+", help="`docker-compose config` output of each compose file")
    ap.add_argument("--rules-out", required=True)
    a = ap.parse_args()
    repo = os.path.abspath(a.repo)
    check_dockerfile(repo, os.path.join(repo, "containers/Dockerfile"), multi_stage=False)
    check_dockerfile(repo, os.path.join(repo, "containers/Dockerfile.cuda"), multi_stage=True)
    targets = prometheus_targets(repo)
    services = {}
    for r in a.resolved:
        services = check_compose(repo, r, targets) or services
    check_grafana(repo, services, a.rules_out)
    print(f"check_files: {len(passed)} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

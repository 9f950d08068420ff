#!/usr/bin/python3
"""Validate rendered Kubernetes objects against the Kubernetes API's own object model.

Usage: validate_k8s.py FILE... ('-' = stdin). Every YAML document must be an object the API
knows, with every field known and of the right type:

- Core kinds: the generated models of Debian's python3-kubernetes (kubernetes.client.models,
  generated from the Kubernetes OpenAPI document). The kind -> model table comes from the
  generated API classes themselves (the POST path of each collection names the group/version,
  its response type the model), so `apps/v1 StatefulSet` resolves to V1StatefulSet and
  `v1 StatefulSet` is an error. Each model's `openapi_types` and `attribute_map` give the JSON
  field names and types; required fields are the ones whose generated setter rejects None.
  Namespaced kinds need metadata.namespace, cluster-scoped ones must not have one.
- prometheus-operator CRDs (ServiceMonitor, PrometheusRule) are not in the core model and their
  CRD schemas are not packaged offline: the subset of their v1 schema that this chart uses is
  written out below, strictly (an unlisted field is an error, so a field the chart starts using
  must be added here from the CRD reference).

YAML is read with PyYAML (YAML 1.1 like sigs.k8s.io/yaml: `yes`/`on` are booleans), so an
unquoted annotation value of 60 or `true` is the type error the API server would report.

Exit status: 0 all valid, 1 errors (one line each: `SOURCE: KIND/NAME: PATH: problem`), 2 bad
usage or unreadable/unparseable input. A summary goes to stdout.
"""
import datetime
import os
import re
import sys

try:
    import yaml
    import kubernetes.client as kc
    from kubernetes.client import api as kapi
    from kubernetes.client.configuration import Configuration
except ImportError as e:  # pragma: no cover - setup problem, reported clearly
    sys.stderr.write(f"validate_k8s: {e} (install Debian's python3-kubernetes; run with /usr/bin/python3)\n")
    sys.exit(2)

# Fields typed 'object' in the model that are IntOrString in the API.
INT_OR_STRING = {
    ("V1HTTPGetAction", "port"), ("V1TCPSocketAction", "port"), ("V1NetworkPolicyPort", "port"),
    ("V1ServicePort", "target_port"), ("V1PodDisruptionBudgetSpec", "max_unavailable"),
    ("V1PodDisruptionBudgetSpec", "min_available"), ("V1RollingUpdateDeployment", "max_surge"),
    ("V1RollingUpdateDeployment", "max_unavailable"), ("V1RollingUpdateDaemonSet", "max_surge"),
    ("V1RollingUpdateDaemonSet", "max_unavailable"),
}
# resource.Quantity: a string in the model, but the API also accepts JSON numbers.
QUANTITY = {("V1ResourceRequirements", "limits"), ("V1ResourceRequirements", "requests"),
            ("V1EmptyDirVolumeSource", "size_limit")}

# prometheus-operator monitoring.coreos.com/v1, the fields this chart uses (names as in the CRDs).
_SELECTOR = "V1LabelSelector"
CRDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): {
        "namespaced": True,
        "fields": {
            "apiVersion": "str", "kind": "str", "metadata": "V1ObjectMeta",
            "spec": {"required": ["selector"], "fields": {
                "selector": _SELECTOR, "jobLabel": "str", "targetLabels": "list[str]",
                "podTargetLabels": "list[str]",
                "namespaceSelector": {"fields": {"any": "bool", "matchNames": "list[str]"}},
                "endpoints": ("list", {"fields": {
                    "port": "str", "targetPort": "intorstr", "path": "str", "scheme": "str",
                    "interval": "duration", "scrapeTimeout": "duration", "honorLabels": "bool",
                    "honorTimestamps": "bool", "params": "dict(str, list[str])",
                }}),
            }},
        },
        "required": ["spec"],
    },
    ("monitoring.coreos.com/v1", "PrometheusRule"): {
        "namespaced": True,
        "fields": {
            "apiVersion": "str", "kind": "str", "metadata": "V1ObjectMeta",
            "spec": {"fields": {"groups": ("list", {"required": ["name"], "fields": {
                "name": "str", "interval": "duration", "limit": "int", "partial_response_strategy": "str",
                "labels": "dict(str, str)", "query_offset": "duration",
                "rules": ("list", {"required": ["expr"], "fields": {
                    "alert": "str", "record": "str", "expr": "intorstr", "for": "duration",
                    "keep_firing_for": "duration", "labels": "dict(str, str)",
                    "annotations": "dict(str, str)",
                }}),
            }})}},
        },
        "required": ["spec"],
    },
}

DURATION = re.compile(r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$")
VERSION_PREFIX = re.compile(r"^V\d+(?:(?:alpha|beta)\d+)?")


def kind_table():
    """(apiVersion, kind) -> (model class name, namespaced) from the generated API classes."""
    table = {}
    pat = re.compile(r"call_api\(\s*'([^']+)',\s*'POST',[^)]*?response_type='(\w+)'", re.S)
    api_dir = os.path.dirname(kapi.__file__)
    for fname in sorted(os.listdir(api_dir)):
        if not fname.endswith("_api.py"):
            continue
        with open(os.path.join(api_dir, fname), encoding="utf-8") as f:
            src = f.read()
        for path, model in pat.findall(src):
            m = re.match(r"^/api/(v1)/(.*)$", path) or re.match(r"^/apis/([^/]+/[^/]+)/(.*)$", path)
            if not m or "{name}" in path or model.endswith("List") or model == "V1Status":
                continue
            kind = VERSION_PREFIX.sub("", model)
            if not kind:
                continue
            rest = m.group(2)
            namespaced = rest.startswith("namespaces/{namespace}/")
            table[(m.group(1), kind)] = (model, namespaced)
    return table


_required_cache = {}


def required_fields(model):
    """Attributes whose generated setter refuses None (client-side validation of required)."""
    if model not in _required_cache:
        cls = getattr(kc, model)
        obj = cls.__new__(cls)
        obj.local_vars_configuration = Configuration()
        req = set()
        for attr in cls.openapi_types:
            try:
                setattr(obj, attr, None)
            except ValueError:
                req.add(attr)
        _required_cache[model] = req
    return _required_cache[model]


class Validator:
    def __init__(self):
        self.errors = []

    def err(self, path, msg):
        self.errors.append(f"{path or '<root>'}: {msg}")

    def check(self, value, typ, path, owner=None):
        """typ: openapi type string, CRD dict, ('list', spec) or 'intorstr'."""
        if isinstance(typ, tuple):
            if not isinstance(value, list):
                return self.err(path, f"must be a list, not {tname(value)}")
            for i, v in enumerate(value):
                self.check(v, typ[1], f"{path}[{i}]")
            return
        if isinstance(typ, dict):
            return self.check_struct(value, typ["fields"], set(typ.get("required", [])), path, "CRD schema")
        if typ.startswith("list["):
            if not isinstance(value, list):
                return self.err(path, f"must be a list, not {tname(value)}")
            for i, v in enumerate(value):
                self.check(v, typ[5:-1], f"{path}[{i}]", owner)
            return
        if typ.startswith("dict("):
            if not isinstance(value, dict):
                return self.err(path, f"must be a map, not {tname(value)}")
            inner = typ[typ.index(",") + 1:-1].strip()
            for k, v in value.items():
                if not isinstance(k, str):
                    self.err(f"{path}.{k}", f"map key must be a string, not {tname(k)}")
                self.check(v, inner, f"{path}.{k}", owner)
            return
        if typ in ("str", "quantity"):
            ok = isinstance(value, str) or (typ == "quantity" and isinstance(value, (int, float))
                                             and not isinstance(value, bool))
            if not ok:
                self.err(path, f"must be a string, not {tname(value)} ({value!r})")
            return
        if typ == "int":
            if not isinstance(value, int) or isinstance(value, bool):
                self.err(path, f"must be an integer, not {tname(value)} ({value!r})")
            return
        if typ == "float":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                self.err(path, f"must be a number, not {tname(value)} ({value!r})")
            return
        if typ == "bool":
            if not isinstance(value, bool):
                self.err(path, f"must be a boolean, not {tname(value)} ({value!r})")
            return
        if typ == "duration":  # the CRDs' Prometheus duration pattern
            if not isinstance(value, str) or not DURATION.match(value):
                self.err(path, f"must be a Prometheus duration such as 30s or 1m, not {value!r}")
            return
        if typ == "intorstr":
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                self.err(path, f"must be an integer or a string, not {tname(value)}")
            return
        if typ in ("datetime", "date"):
            if not isinstance(value, (str, datetime.date)):
                self.err(path, f"must be a timestamp, not {tname(value)}")
            return
        if typ == "object":
            return
        cls = getattr(kc, typ, None)
        if cls is None:
            return self.err(path, f"validator: unknown model type {typ}")
        if not isinstance(value, dict):
            return self.err(path, f"must be an object ({typ}), not {tname(value)}")
        fields = {}
        for attr, t in cls.openapi_types.items():
            if (typ, attr) in INT_OR_STRING:
                t = "intorstr"
            elif (typ, attr) in QUANTITY:
                t = t.replace("str", "quantity")
            fields[cls.attribute_map[attr]] = t
        required = {cls.attribute_map[a] for a in required_fields(typ)}
        self.check_struct(value, fields, required, path, typ)

    def check_struct(self, value, fields, required, path, what):
        if not isinstance(value, dict):
            return self.err(path, f"must be an object ({what}), not {tname(value)}")
        for k, v in value.items():
            sub = f"{path}.{k}" if path else str(k)
            if k not in fields:
                self.err(sub, f"unknown field \"{k}\" ({what})")
            elif v is not None:
                self.check(v, fields[k], sub)
        for k in sorted(required):
            if value.get(k) is None:
                self.err(f"{path}.{k}" if path else k, f"required field missing ({what})")


def tname(v):
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list",
            dict: "map"}.get(type(v), type(v).__name__)


def validate(obj, table):
    """Errors of one object (list of strings without the source prefix)."""
    v = Validator()
    if not isinstance(obj, dict):
        return [f"<root>: a Kubernetes object must be a map, not {tname(obj)}"]
    api, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api, str) or not isinstance(kind, str):
        return ["<root>: apiVersion and kind are required strings"]
    if (api, kind) in CRDS:
        crd = CRDS[(api, kind)]
        v.check_struct(obj, crd["fields"], set(crd["required"]), "", f"{api} {kind} CRD schema")
        namespaced = crd["namespaced"]
    elif (api, kind) in table:
        model, namespaced = table[(api, kind)]
        v.check(obj, model, "")
    else:
        known = sorted(a for (a, k) in table if k == kind)
        hint = f" (the API serves {kind} as {', '.join(known)})" if known else ""
        return [f"<root>: unknown kind {kind!r} in apiVersion {api!r}{hint}"]
    meta = obj.get("metadata") or {}
    if not meta.get("name"):
        v.err("metadata.name", "required field missing")
    if namespaced and isinstance(meta, dict) and not meta.get("namespace"):
        v.err("metadata.namespace", f"{kind} is namespaced: the chart must set the namespace")
    if not namespaced and isinstance(meta, dict) and meta.get("namespace"):
        v.err("metadata.namespace", f"{kind} is cluster-scoped and has no namespace")
    return v.errors


def main(argv):
    if not argv:
        sys.stderr.write("usage: validate_k8s.py FILE... ('-' = stdin)\n")
        return 2
    table = kind_table()
    errors, count, kinds = [], 0, {}
    for src in argv:
        try:
            text = sys.stdin.read() if src == "-" else open(src, encoding="utf-8").read()
            docs = list(yaml.safe_load_all(text))
        except (OSError, yaml.YAMLError) as e:
            sys.stderr.write(f"validate_k8s: {src}: {e}\n")
            return 2
        for doc in docs:
            if doc is None:
                continue
            count += 1
            ident = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}" if isinstance(doc, dict) else "?"
            kinds[doc.get("kind") if isinstance(doc, dict) else "?"] = kinds.get(doc.get("kind") if isinstance(doc, dict) else "?", 0) + 1
            for e in validate(doc, table):
                errors.append(f"{src}: {ident}: {e}")
    for e in errors:
        sys.stderr.write(e + "\n")
    summary = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
    print(f"validated {count} objects ({summary}): {len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

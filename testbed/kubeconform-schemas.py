#!/usr/bin/env python3
"""Writes kubeconform schemas, offline, into OUT_DIR:

- every built-in kind, from the pinned k8s.io/kubernetes module's
  api/openapi-spec/swagger.json (already in the Go module cache for the test
  bed), one file per kind with only the definitions it references;
- our CRDs (crds/*.yaml), from their openAPIV3Schema.

File names follow kubeconform's default template
`{kind}-{group's first label}-{version}.json` (core kinds: `{kind}-{version}.json`).
Like openapi2jsonschema --strict, objects with properties reject unknown
fields, and int-or-string accepts both.

Usage: kubeconform-schemas.py SWAGGER_JSON CRD_DIR OUT_DIR
"""
import json
import os
import sys

try:
    import yaml  # PyYAML, for the CRDs
except ImportError:  # pragma: no cover - reported clearly below
    yaml = None


def strictify(node):
    if isinstance(node, dict):
        if node.get("format") == "int-or-string":
            return {"oneOf": [{"type": "string"}, {"type": "integer"}]}
        out = {k: strictify(v) for k, v in node.items()}
        if "properties" in out and "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        # apiVersion/kind are checked by kubeconform itself; allow them anywhere.
        return out
    if isinstance(node, list):
        return [strictify(v) for v in node]
    return node


def refs(node, found):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            found.add(ref[len("#/definitions/"):])
        for v in node.values():
            refs(v, found)
    elif isinstance(node, list):
        for v in node:
            refs(v, found)


def closure(defs, name):
    todo, seen = [name], set()
    while todo:
        n = todo.pop()
        if n in seen or n not in defs:
            continue
        seen.add(n)
        found = set()
        refs(defs[n], found)
        todo.extend(found - seen)
    return seen


def file_name(kind, group, version):
    group = group.split(".")[0] if group else ""
    suffix = f"-{group}-{version}" if group else f"-{version}"
    return f"{kind.lower()}{suffix.lower()}.json"


def main(swagger_path, crd_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    defs = json.load(open(swagger_path))["definitions"]
    written = 0
    for name, schema in defs.items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            needed = closure(defs, name)
            doc = {"$ref": f"#/definitions/{name}", "definitions": {n: strictify(defs[n]) for n in needed}}
            with open(os.path.join(out_dir, file_name(gvk["kind"], gvk["group"], gvk["version"])), "w") as f:
                json.dump(doc, f)
            written += 1
    if yaml is None:
        sys.exit("PyYAML is needed for the CRD schemas: pip install pyyaml (or apt-get install python3-yaml)")
    for entry in sorted(os.listdir(crd_dir)):
        if not entry.endswith(".yaml"):
            continue
        crd = yaml.safe_load(open(os.path.join(crd_dir, entry)))
        spec = crd["spec"]
        for version in spec["versions"]:
            schema = dict(version["schema"]["openAPIV3Schema"])
            # The API server adds these to every CRD schema; generated CRDs leave them out.
            schema["properties"] = {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                **schema.get("properties", {}),
            }
            schema = strictify(schema)
            with open(os.path.join(out_dir, file_name(spec["names"]["kind"], spec["group"], version["name"])), "w") as f:
                json.dump(schema, f)
            written += 1
    print(f"kubeconform-schemas: {written} schemas in {out_dir}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])

"""kgan's package structure, measured: import cycles, private and function-local imports, family branches.

  python bench/structure.py [--root .]    # prints the counts, the layer of every module, sizes

Reads the source with `ast` (nothing is imported). tests/test_structure.py asserts the counts
are 0 and that every import goes down the layers:

  core (gan, losses, contract, checks, fused_adam, images, augment, spectral_norm) < models, data < training < serving
  < evaluation < latent < kgan/__init__
"""

import argparse
import ast
import os
import sys

LAYERS = {"core": 0, "models": 1, "data": 1, "training": 2, "serving": 3, "evaluation": 4, "latent": 5,
          "package": 6}
CORE = {"gan", "losses", "contract", "checks", "fused_adam", "images", "augment", "spectral_norm", "preset",
        "version"}
# The ready-made family modules and classes: only kgan/models/ may name them.
FAMILY_MODULES = {"kgan.models.mlp", "kgan.models.dcgan", "kgan.models.cgan", "kgan.models.infogan"}
FAMILY_CLASSES = {"VanillaGAN", "DCGAN", "CGAN", "ConditionalDCGAN", "InfoGAN", "ConvInfoGAN"}
FAMILY_NAMES = {"gan", "dcgan", "cgan", "infogan"}


def module_name(root, path):
    rel = os.path.relpath(path, root)[:-len(".py")].split(os.sep)
    if rel[-1] == "__init__":
        rel = rel[:-1]
    return ".".join(rel)


def modules(root):
    """{module name: path} of every kgan module."""
    found = {}
    for folder, _, files in os.walk(os.path.join(root, "kgan")):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                found[module_name(root, path)] = path
    return found


def layer(name):
    parts = name.split(".")
    if len(parts) == 1:
        return "package"
    if parts[1] in CORE and len(parts) == 2:
        return "core"
    return parts[1] if parts[1] in LAYERS else "package"


def _resolve(name, known):
    """The kgan module an imported name refers to (a module, or the module defining an attribute)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


class Report:
    """Everything the structure check counts, for one source tree."""

    def __init__(self, root):
        self.root = root
        self.modules = modules(root)
        self.imports = {name: set() for name in self.modules}  # module -> kgan modules it imports at top level
        self.private_imports, self.local_imports, self.family_branches, self.serving_families = [], [], [], []
        self.sizes, self.functions = {}, []
        for name, path in sorted(self.modules.items()):
            with open(path) as f:
                source = f.read()
            self.sizes[name] = len(source.splitlines())
            self._scan(name, ast.parse(source, path))

    def _imported(self, name, node):
        """(kgan module, imported names) pairs of an import statement."""
        pairs = []
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "kgan":
                    pairs.append((alias.name, []))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "kgan":
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                pairs.append((full if full in self.modules else node.module, [alias.name]))
        return pairs

    def _scan(self, name, tree):
        for node in tree.body:
            for target, names in self._imported(name, node):
                resolved = _resolve(target, self.modules)
                if resolved and resolved != name:
                    self.imports[name].add(resolved)
                for imported in names:
                    if imported.startswith("_"):
                        self.private_imports.append(f"{name}: from {target} import {imported}")
                    if layer(name) == "serving" and (imported in FAMILY_CLASSES or target in FAMILY_MODULES):
                        self.serving_families.append(f"{name}: {target}.{imported}")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.append((node.end_lineno - node.lineno + 1, f"{name}.{node.name}"))
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)) and self._imported(name, inner):
                        self.local_imports.append(f"{name}.{node.name}: line {inner.lineno}")
                        for target, _ in self._imported(name, inner):  # a hidden edge is still an edge
                            resolved = _resolve(target, self.modules)
                            if resolved and resolved != name:
                                self.imports[name].add(resolved)
            if name.startswith("kgan.models."):
                continue
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("isinstance", "issubclass"):
                kinds = node.args[1] if len(node.args) > 1 else None
                named = {getattr(n, "id", getattr(n, "attr", None)) for n in ast.walk(kinds)} if kinds else set()
                named.discard(None)
                if named & FAMILY_CLASSES:
                    self.family_branches.append(f"{name}: line {node.lineno} isinstance(..., {sorted(named)})")
            if isinstance(node, ast.Compare):
                constants = {n.value for n in ast.walk(node) if isinstance(n, ast.Constant)}
                if constants & FAMILY_NAMES:
                    self.family_branches.append(f"{name}: line {node.lineno} compares with {sorted(constants)}")

    def cycles(self):
        """Import cycles between modules (each as a list of module names)."""
        found, state = [], {}

        def visit(node, stack):
            state[node] = "open"
            stack.append(node)
            for child in sorted(self.imports[node]):
                if state.get(child) == "open":
                    found.append(stack[stack.index(child):] + [child])
                elif child not in state:
                    visit(child, stack)
            stack.pop()
            state[node] = "done"

        for name in sorted(self.imports):
            if name not in state:
                visit(name, [])
        return found

    def upward_imports(self):
        """Imports that go up the layers, or sideways between models and data."""
        bad = []
        for name, targets in sorted(self.imports.items()):
            for target in sorted(targets):
                source_layer, target_layer = layer(name), layer(target)
                if source_layer == "package" or target.startswith(name + "."):
                    continue  # a package's __init__ re-exports its own modules
                if LAYERS[target_layer] > LAYERS[source_layer] or (
                        LAYERS[target_layer] == LAYERS[source_layer] and target_layer != source_layer):
                    bad.append(f"{name} ({source_layer}) imports {target} ({target_layer})")
        return bad


def zoo_functions(root):
    """(lines, name) of every function in zoo/."""
    found = []
    folder = os.path.join(root, "zoo")
    for file_name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if file_name.endswith(".py"):
            with open(os.path.join(folder, file_name)) as f:
                tree = ast.parse(f.read())
            found += [(node.end_lineno - node.lineno + 1, f"zoo.{file_name[:-3]}.{node.name}")
                      for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    args = parser.parse_args()
    report = Report(args.root)
    counts = {"import cycles": report.cycles(), "private cross-module imports": report.private_imports,
              "function-local kgan imports": report.local_imports,
              "family branches outside kgan/models": report.family_branches,
              "concrete families imported by serving": report.serving_families,
              "imports up the layers": report.upward_imports()}
    for what, items in counts.items():
        print(f"{what}: {len(items)}")
        for item in items:
            print(f"    {item}")
    print(f"\n{len(report.modules)} modules, {sum(report.sizes.values())} lines; largest:")
    for name, size in sorted(report.sizes.items(), key=lambda kv: -kv[1])[:8]:
        print(f"    {size:5d}  {name}  ({layer(name)})")
    print("longest functions (kgan and zoo):")
    for length, name in sorted(report.functions + zoo_functions(args.root), reverse=True)[:5]:
        print(f"    {length:5d}  {name}")
    return 1 if any(counts.values()) else 0


if __name__ == "__main__":
    sys.exit(main())

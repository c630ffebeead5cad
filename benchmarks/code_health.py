"""Code-health counts (issue 9): definitions of AUC / predict / eval mode, long functions and modules, import cycles.

Run from the project root: `.venv/bin/python benchmarks/code_health.py [CHECKOUT]` (default: this checkout).
Not a timed benchmark: it reads the source with ast and prints what it counts.
"""
import ast
import re
import subprocess
import sys
from pathlib import Path

root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent).resolve()
pkg = root / "radlab"
files = sorted(p for p in pkg.rglob("*.py"))


def modname(p):
    parts = list(p.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


mods = {modname(p): p for p in files}
# --- definitions of each idea (by the shape of the code, not the name) ---
auc_defs, predict_defs, eval_defs = [], [], []
longest = []
for p in files:
    src = p.read_text()
    tree = ast.parse(src)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = ast.get_source_segment(src, node) or ""
            n = node.end_lineno - node.lineno + 1
            longest.append((n, f"{modname(p)}.{node.name}"))
            # an AUC computed here: ranks (Mann-Whitney) or sklearn's roc_auc_score or trapz on ROC
            if re.search(r"roc_auc_score\(|n_pos \* n_neg|rank_sum|np\.trapz\(|np\.trapezoid\(", body) and "auc" in node.name.lower():
                auc_defs.append(f"{modname(p)}.{node.name}")
            # probabilities from a model: forward under no_grad/inference_mode then sigmoid/softmax
            if re.search(r"inference_mode|no_grad", body) and re.search(r"sigmoid|softmax|_probabilities", body) \
                    and re.search(r"model\(", body) and node.name in ("predict", "predict_scores", "predict_proba", "probabilities"):
                predict_defs.append(f"{modname(p)}.{node.name}")
    # eval-mode context: saving model.training then model.eval() ... model.train(was)
    for m in re.finditer(r"=\s*(\w+)\.training\b", src):
        eval_defs.append(f"{modname(p)}:{src[:m.start()].count(chr(10)) + 1}")
longest.sort(reverse=True)
core = [x for x in longest if not x[1].startswith(("radlab.widgets", "radlab.viz", "radlab.serve", "radlab.cli",
                                                    "radlab.course"))]

print("AUC definitions:", len(auc_defs), auc_defs)
print("predict definitions:", len(predict_defs), predict_defs)
print("eval-mode (model.training saved) sites:", len(eval_defs), eval_defs)
print("longest function (all):", longest[0])
print("longest core function (no widgets/viz/serve/cli/course exercise tables):", core[0])
print("course exercise tables over 60 lines:", [x for x in longest if x[1].startswith("radlab.course") and x[0] > 60])
print("core functions over 60 lines:", [x for x in core if x[0] > 60])
big = sorted(((len(p.read_text().splitlines()), modname(p)) for p in files), reverse=True)
print("modules over 400 lines:", len([b for b in big if b[0] > 400]), [b for b in big if b[0] > 400])

# --- import cycles (any import of radlab.*, module level or inside functions) ---
graph = {m: set() for m in mods}
for m, p in mods.items():
    for node in ast.walk(ast.parse(p.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for n in names:
            if n in mods and n != m and not m.startswith(n + ".") and n != "radlab":
                graph[m].add(n)
cycles = set()


def dfs(start, node, path, seen):
    for nxt in graph[node]:
        if nxt == start:
            cyc = path[:]
            i = cyc.index(min(cyc))
            cycles.add(tuple(cyc[i:] + cyc[:i]))
        elif nxt not in seen and nxt > start:
            dfs(start, nxt, path + [nxt], seen | {nxt})


for m in graph:
    dfs(m, m, [m], {m})
print("import cycles:", len(cycles), sorted(cycles))
noqa = subprocess.run(["grep", "-rc", "noqa", str(pkg), str(root / "tests"), str(root / "benchmarks"), str(root / "make.py")],
                      capture_output=True, text=True).stdout
print("noqa comments:", sum(int(line.rsplit(":", 1)[1]) for line in noqa.splitlines() if line.strip()))
ruff = root / ".venv/bin/ruff"
if ruff.exists():
    r = subprocess.run([str(ruff), "check", "--statistics", "radlab", "tests", "benchmarks", "make.py"],
                       cwd=root, capture_output=True, text=True)
    print("ruff check:", "clean" if r.returncode == 0 else r.stdout.strip().splitlines()[-5:])
else:
    print("ruff check: ruff not installed")

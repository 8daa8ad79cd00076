# class: ops (python API)
# case: double backward through sym_loss (sigmoid, logistic, aot) vs the reference (create_graph gradient penalty)
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
torch.manual_seed(0)
bad = []
for lt in ["sigmoid", "logistic", "ramp", "aot", "nca_pair"]:
    x = [torch.randn(6, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    ref = [torch.randn(6, dtype=torch.float64) for _ in range(2)]
    res = []
    for f in (sympo_ext.sym_loss, R.sym_loss):
        l = f(x[0], x[1], ref[0], ref[1], loss_type=lt, beta=0.7)
        g = torch.autograd.grad(l, x, create_graph=True)
        pen = sum((gi ** 2).sum() for gi in g)
        res.append(torch.autograd.grad(pen, x) if pen.requires_grad else tuple(torch.zeros_like(xi) for xi in x))  # ramp: piecewise linear, no second derivative (both)
    for a, b in zip(*res):
        if not close(a, b, 1e-8): bad.append((lt, (a - b).abs().max().item()))
A("handled" if not bad else "silent-wrong", f"second derivatives equal the reference for 5 losses" if not bad else str(bad))
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

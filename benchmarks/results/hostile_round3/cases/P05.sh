# class: ops (python API)
# case: hinge at its kink s = 1 (midpoint -1/2), kernel == reference; and just off the kink
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
out = []
for s in (1.0, 1.0 - 1e-3, 1.0 + 1e-3):
    for f in (sympo_ext.sym_loss, R.sym_loss):
        c = torch.tensor([s], requires_grad=True)
        f(c, torch.zeros(1), torch.zeros(1), torch.zeros(1), loss_type="hinge", beta=1.0).backward(); out.append(round(c.grad.item(), 6))
ok = out == [-0.5, -0.5, -1.0, -1.0, 0.0, 0.0]
A("handled" if ok else "silent-wrong", f"grads {out}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

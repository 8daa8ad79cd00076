# class: ops (python API)
# case: ramp at its kinks s = 0 and s = 1: gradient is the midpoint (-1/2 per beta), kernel == reference
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
out = []
for s in (0.0, 1.0):
    for f in (sympo_ext.sym_loss, R.sym_loss):
        c = torch.tensor([s], requires_grad=True)
        l = f(c, torch.zeros(1), torch.zeros(1), torch.zeros(1), loss_type="ramp", beta=1.0)
        l.backward(); out.append(c.grad.item())
ok = all(abs(v + 0.5) < 1e-6 for v in out)
A("handled" if ok else "silent-wrong", f"d l / d chosen at s=0,1 (kernel, ref): {out}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

# class: ops (python API)
# case: symmetric_ramp kinks (slope 0.25: s = +-2) midpoint and l'(s) = l'(-s), kernel == reference
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
out = []
for s in (2.0, -2.0):
    for f in (sympo_ext.sym_loss, R.sym_loss):
        c = torch.tensor([s], requires_grad=True)
        f(c, torch.zeros(1), torch.zeros(1), torch.zeros(1), loss_type="symmetric_ramp", slope=0.25, beta=1.0).backward(); out.append(c.grad.item())
ok = all(abs(v + 0.125) < 1e-7 for v in out)
A("handled" if ok else "silent-wrong", f"grads at s=2,-2 (kernel, ref): {out} (expect -0.125)")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

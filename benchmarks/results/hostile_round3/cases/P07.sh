# class: ops (python API)
# case: reward exactly at the clip bound: half the gradient; kernel == reference
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
out = []
for f in (sympo_ext.sym_loss, R.sym_loss):
    c = torch.tensor([2.0], requires_grad=True)
    f(c, torch.zeros(1), torch.zeros(1), torch.zeros(1), loss_type="logistic", beta=0.5, clip=1.0).backward(); out.append(c.grad.item())
c = torch.tensor([2.0]); s = 1.0; full = -0.5 * torch.sigmoid(torch.tensor(-s)).item()
ok = all(abs(v - full / 2) < 1e-6 for v in out)
A("handled" if ok else "silent-wrong", f"{out} expected {full/2}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

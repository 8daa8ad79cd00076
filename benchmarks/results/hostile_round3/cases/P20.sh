# class: ops (python API)
# case: logistic at s = -inf: loss inf, gradient -beta (limit), kernel == reference
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
out = []
for f in (sympo_ext.sym_loss, R.sym_loss):
    c = torch.tensor([float("-inf")], requires_grad=True)
    l = f(c, torch.zeros(1), torch.zeros(1), torch.zeros(1), loss_type="logistic", beta=0.5); l.backward(); out.append((l.item(), c.grad.item()))
ok = all(v == (float("inf"), -0.5) for v in out)
A("handled" if ok else "silent-wrong", str(out))
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

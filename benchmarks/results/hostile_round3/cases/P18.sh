# class: ops (python API)
# case: zero-stride (expanded) and non-contiguous inputs == contiguous, values and gradients
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
torch.manual_seed(4)
base = torch.randn(1, requires_grad=True); c = base.expand(6)
big = torch.randn(12, requires_grad=True); r = big[::2]
l1 = sympo_ext.sym_loss(c, r, torch.zeros(6), torch.zeros(6), loss_type="logistic"); l1.backward()
g1 = (base.grad.clone(), big.grad.clone()); base.grad = None; big.grad = None
l2 = R.sym_loss(c, r, torch.zeros(6), torch.zeros(6), loss_type="logistic"); l2.backward()
ok = close(l1, l2) and close(g1[0], base.grad) and close(g1[1], big.grad)
A("handled" if ok else "silent-wrong", f"{l1.item()} {l2.item()} {g1[0].tolist()} {base.grad.tolist()}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

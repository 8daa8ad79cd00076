# class: ops (python API)
# case: torch.func.grad of sym_loss (sigmoid, hinge, aot) == the reference's
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
from torch.func import grad
torch.manual_seed(1); bad = []
a, b, c, d = (torch.randn(5) for _ in range(4))
for lt in ("sigmoid", "hinge", "aot", "apo_zero"):
    g1 = grad(lambda x: sympo_ext.sym_loss(x, b, c, d, loss_type=lt))(a)
    g2 = grad(lambda x: R.sym_loss(x, b, c, d, loss_type=lt))(a)
    if not close(g1, g2, 1e-6): bad.append(lt)
A("handled" if not bad else "silent-wrong", "equal" if not bad else f"differ: {bad}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

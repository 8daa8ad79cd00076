# class: ops (python API)
# case: torch.func.hessian of sym_loss (logistic) == reference's, and jvp
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
from torch.func import hessian, jvp
torch.manual_seed(3); a, b, c, d = (torch.randn(4, dtype=torch.float64) for _ in range(4))
h1 = hessian(lambda x: sympo_ext.sym_loss(x, b, c, d, loss_type="logistic"))(a)
h2 = hessian(lambda x: R.sym_loss(x, b, c, d, loss_type="logistic"))(a)
t = torch.randn(4, dtype=torch.float64)
j1 = jvp(lambda x: sympo_ext.sym_loss(x, b, c, d), (a,), (t,))[1]; j2 = jvp(lambda x: R.sym_loss(x, b, c, d), (a,), (t,))[1]
A("handled" if close(h1, h2, 1e-10) and close(j1, j2, 1e-10) else "silent-wrong", f"hess diff {(h1-h2).abs().max().item()} jvp diff {(j1-j2).abs().item()}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

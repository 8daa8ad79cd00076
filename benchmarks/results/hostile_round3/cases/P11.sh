# class: ops (python API)
# case: torch.func.vmap of sym_loss over a leading dim == a loop
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
from torch.func import vmap
torch.manual_seed(2); X = [torch.randn(3, 5) for _ in range(4)]
v = vmap(lambda a, b, c, d: sympo_ext.sym_loss(a, b, c, d, loss_type="sigmoid"))(*X)
l = torch.stack([sympo_ext.sym_loss(*(x[i] for x in X)) for i in range(3)])
A("handled" if close(v, l, 1e-6) else "silent-wrong", f"{v.tolist()} vs {l.tolist()}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

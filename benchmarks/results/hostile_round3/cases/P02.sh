# class: ops (python API)
# case: double backward through sequence_logps vs reference
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
torch.manual_seed(0)
lg = torch.randn(3, 5, 11, dtype=torch.float64, requires_grad=True); lab = torch.randint(0, 11, (3, 5)); lab[0, :2] = -100
res = []
for f in (sympo_ext.sequence_logps, R.sequence_logps):
    y = f(lg, lab); g, = torch.autograd.grad((y * torch.arange(1., 4, dtype=torch.float64)).sum(), lg, create_graph=True)
    res.append(torch.autograd.grad((g ** 2).sum(), lg)[0])
d = (res[0] - res[1]).abs().max().item()
A("handled" if d < 1e-10 else "silent-wrong", f"max diff {d}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

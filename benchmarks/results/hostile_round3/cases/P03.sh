# class: ops (python API)
# case: double backward through fused_linear_sequence_logps (hidden, weight, bias) vs logits + reference
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
torch.manual_seed(0)
h = torch.randn(2, 4, 8, dtype=torch.float64, requires_grad=True); w = torch.randn(13, 8, dtype=torch.float64, requires_grad=True); b = torch.randn(13, dtype=torch.float64, requires_grad=True)
lab = torch.randint(0, 13, (2, 4)); lab[1, 0] = -100
res = []
for k in range(2):
    y = sympo_ext.fused_linear_sequence_logps(h, w, lab, bias=b, chunk_size=3) if k == 0 else R.sequence_logps(h @ w.T + b, lab)
    g = torch.autograd.grad(y.sum(), (h, w, b), create_graph=True)
    res.append(torch.autograd.grad(sum((gi ** 2).sum() for gi in g), (h, w, b)))
d = max((a - c).abs().max().item() for a, c in zip(*res))
A("handled" if d < 1e-9 else "silent-wrong", f"max diff {d}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

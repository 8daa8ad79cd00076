# class: ops (python API)
# case: fused_linear_sequence_logps with T = 0 (hidden [2, 0, H]) and packed with zero tokens
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
h = torch.randn(2, 0, 8, requires_grad=True); w = torch.randn(13, 8, requires_grad=True)
y = sympo_ext.fused_linear_sequence_logps(h, w, torch.zeros(2, 0, dtype=torch.long)); y.sum().backward()
hp = torch.randn(0, 8, requires_grad=True)
yp = sympo_ext.fused_linear_sequence_logps(hp, w, torch.zeros(0, dtype=torch.long), cu_seqlens=torch.tensor([0, 0, 0]))
A("handled" if y.tolist() == [0.0, 0.0] and yp.tolist() == [0.0, 0.0] else "silent-wrong", f"{y.tolist()} {yp.tolist()}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

# class: ops (python API)
# case: sequence_logps: a row with every label ignored: 0 (sum and average), zero gradient
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
lg = torch.randn(2, 3, 7, requires_grad=True); lab = torch.tensor([[1, 2, 3], [-100, -100, -100]])
y = sympo_ext.sequence_logps(lg, lab); ya = sympo_ext.sequence_logps(lg, lab, average=True)
(y.sum() + ya.sum()).backward()
ok = y[1].item() == 0 and ya[1].item() == 0 and float(lg.grad[1].abs().sum()) == 0 and close(y, R.sequence_logps(lg, lab))
A("handled" if ok else "silent-wrong", f"{y.tolist()} {ya.tolist()}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

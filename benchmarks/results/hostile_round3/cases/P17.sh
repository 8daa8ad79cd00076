# class: ops (python API)
# case: sym_loss weights: negative raises, NaN gives NaN for that pair only (reduction none)
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
z = torch.zeros(3)
try:
    sympo_ext.sym_loss(z, z, z, z, weights=torch.tensor([1., -1., 1.])); neg = "accepted"
except Exception as e: neg = f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"
l = sympo_ext.sym_loss(z, z, z, z, weights=torch.tensor([1., float("nan"), 1.]), reduction="none")
ok = neg != "accepted" and math.isnan(l[1].item()) and not math.isnan(l[0].item())
A("handled" if ok else "silent-wrong", f"neg: {neg}; nan: {l.tolist()}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

# class: ops (python API)
# case: sym_loss loss_type list containing 'sft' (only the modules know it)
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
z = torch.zeros(2)
try:
    sympo_ext.sym_loss(z, z, z, z, loss_type=["sigmoid", "sft"]); A("silent-wrong", "accepted")
except Exception as e:
    m = str(e).splitlines()[0]; print(type(e).__name__, m[:200]); A("handled" if "sft" in m else "unclear", m[:150])
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

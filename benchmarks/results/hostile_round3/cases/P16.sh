# class: ops (python API)
# case: sequence_logps: a label equal to V (out of range) on CPU
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
try:
    y = sympo_ext.sequence_logps(torch.randn(1, 3, 7), torch.tensor([[1, 7, 2]])); A("silent-wrong", f"accepted: {y.tolist()}")
except Exception as e:
    m = str(e).splitlines()[0]; print(type(e).__name__, m[:200]); A("handled" if "7" in m or "range" in m.lower() else "unclear", m[:120])
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

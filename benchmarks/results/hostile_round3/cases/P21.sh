# class: ops (python API)
# case: sym_loss with mixed dtypes (bf16 chosen, fp64 ref): math fp64, grads in the input dtypes
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
c = torch.randn(4).bfloat16().requires_grad_(); r = torch.randn(4, requires_grad=True)
l = sympo_ext.sym_loss(c, r, torch.randn(4, dtype=torch.float64), torch.randn(4, dtype=torch.float64))
l.backward()
A("handled" if l.dtype == torch.float64 and c.grad.dtype == torch.bfloat16 and r.grad.dtype == torch.float32 else "silent-wrong", f"loss {l.dtype} gc {c.grad.dtype} gr {r.grad.dtype}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

# class: ops (python API)
# case: empty batch: reduction mean NaN, sum 0, none empty; backward of each
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
res = []
for red in ("mean", "sum", "none"):
    x = torch.zeros(0, requires_grad=True)
    l = sympo_ext.sym_loss(x, torch.zeros(0), torch.zeros(0), torch.zeros(0), reduction=red)
    l.sum().backward(); res.append((red, l.detach().tolist() if l.dim() else l.item(), tuple(x.grad.shape)))
ok = math.isnan(res[0][1]) and res[1][1] == 0 and res[2][1] == []
A("handled" if ok else "silent-wrong", str(res))
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

# class: ops (python API)
# case: invalid labels on CPU: 2, -1, 0.5, NaN (float), bool True
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
res = []
for lab in (torch.tensor([1, 2]), torch.tensor([1, -1]), torch.tensor([1.0, 0.5]), torch.tensor([1.0, float("nan")]), torch.tensor([True, False])):
    try:
        l = sympo_ext.sym_loss(torch.zeros(2), torch.zeros(2), torch.zeros(2), torch.zeros(2), labels=lab)
        res.append(f"{lab.tolist()}: accepted {l.item():.4f}")
    except Exception as e:
        res.append(f"{lab.tolist()}: {type(e).__name__}: {str(e).splitlines()[0][:90]}")
print("\n".join(res))
acc = [r for r in res[:4] if "accepted" in r]
A("handled" if not acc else "silent-wrong", "invalid labels raise; " + res[4][:60] if not acc else "accepted: " + "; ".join(acc))
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

# class: ops (python API)
# case: SymPOLoss with nll_weight: loss = sigmoid loss + w * per-token NLL of chosen (independent computation)
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import torch, math, sympo_ext
R = sympo_ext.reference
def A(v, m): print(f'AUTO={v}|{m}')
def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)
torch.manual_seed(5)
B, T, V = 2, 4, 9
lg = torch.randn(2 * B, T, V, dtype=torch.float64); tg = torch.randint(0, V, (2 * B, T)); tg[:, 0] = -100
rc, rr = torch.randn(B, dtype=torch.float64), torch.randn(B, dtype=torch.float64)
fn = sympo_ext.SymPOLoss("sigmoid", beta=0.1, nll_weight=0.3)
loss, met = fn(lg, tg, rc, rr)
lp = R.sequence_logps(lg, tg)
base = R.sym_loss(lp[:B], lp[B:], rc, rr, loss_type="sigmoid", beta=0.1, reduction="none")
nll = -R.sequence_logps(lg[:B], tg[:B], average=True)
exp = (base + 0.3 * nll).mean()
A("handled" if close(loss, exp, 1e-9) else "silent-wrong", f"{loss.item()} vs {exp.item()}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

# class: TRL integration
# case: sympo_nll_weight=0.5 honoured and logged as nll_loss
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import sys; sys.path.insert(0, '/tmp/wh/cases'); from trlh import *
_, a = train(cfg(sympo_loss_type="logistic", sympo_nll_weight=0.5)); _, b = train(cfg(sympo_loss_type="logistic"))
la, lb, nll = a[0]["loss"], b[0]["loss"], a[0].get("nll_loss")
print(la, lb, nll)
A("handled" if nll is not None and abs(la - (lb + 0.5 * nll)) < 1e-5 else "silent-wrong", f"{la} vs {lb} + 0.5 x {nll}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

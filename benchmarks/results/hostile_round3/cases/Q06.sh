# class: TRL integration
# case: discopop_tau=0.3 with discopop: honoured (equals sympo_tau=0.3, differs from default)
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import sys; sys.path.insert(0, '/tmp/wh/cases'); from trlh import *
_, a = train(cfg(sympo_loss_type="discopop", discopop_tau=0.3)); _, b = train(cfg(sympo_loss_type="discopop", sympo_tau=0.3)); _, c = train(cfg(sympo_loss_type="discopop"))
la, lb, lc = a[0]["loss"], b[0]["loss"], c[0]["loss"]; print(la, lb, lc)
A("handled" if abs(la - lb) < 1e-7 and abs(la - lc) > 1e-7 else "silent-wrong", f"discopop_tau {la} sympo_tau {lb} default {lc}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

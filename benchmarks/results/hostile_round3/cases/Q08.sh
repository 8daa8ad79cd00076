# class: TRL integration
# case: sympo_temperature=3 with sympo_loss_type=['sigmoid','logistic']: honoured (loss changes)
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import sys; sys.path.insert(0, '/tmp/wh/cases'); from trlh import *
_, a = train(cfg(sympo_loss_type=["sigmoid", "logistic"], sympo_temperature=3.0)); _, b = train(cfg(sympo_loss_type=["sigmoid", "logistic"]))
la, lb = a[0]["loss"], b[0]["loss"]; print(la, lb)
A("handled" if abs(la - lb) > 1e-6 else "silent-wrong", f"temp3 {la} default {lb}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

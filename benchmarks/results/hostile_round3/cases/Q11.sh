# class: TRL integration
# case: sympo_loss_weights=[3.0] with one loss (honoured: 3x)
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import sys; sys.path.insert(0, '/tmp/wh/cases'); from trlh import *
_, a = train(cfg(sympo_loss_type="logistic", sympo_loss_weights=[3.0])); _, b = train(cfg(sympo_loss_type="logistic"))
la, lb = a[0]["loss"], b[0]["loss"]; print(la, lb)
A("handled" if abs(la - 3 * lb) < 1e-6 else "silent-wrong", f"{la} vs 3 x {lb}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

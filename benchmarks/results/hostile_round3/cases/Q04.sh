# class: TRL integration
# case: label_smoothing=0.05 with exo_pair: mapped (loss equals sympo_epsilon=0.05)
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import sys; sys.path.insert(0, '/tmp/wh/cases'); from trlh import *
_, a = train(cfg(sympo_loss_type="exo_pair", label_smoothing=0.05)); _, b = train(cfg(sympo_loss_type="exo_pair", sympo_epsilon=0.05)); _, c = train(cfg(sympo_loss_type="exo_pair"))
la, lb, lc = a[0]["loss"], b[0]["loss"], c[0]["loss"]; print(la, lb, lc)
A("handled" if abs(la - lb) < 1e-7 and abs(la - lc) > 1e-6 else "silent-wrong", f"ls {la} eps {lb} default {lc}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

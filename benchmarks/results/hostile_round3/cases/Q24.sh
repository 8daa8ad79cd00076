# class: TRL integration
# case: label_smoothing with a list ['cdpo','logistic']: mapped to cdpo's epsilon (loss differs from ls=0)
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import sys; sys.path.insert(0, '/tmp/wh/cases'); from trlh import *
try:
    _, a = train(cfg(sympo_loss_type=["cdpo", "logistic"], label_smoothing=0.2)); _, b = train(cfg(sympo_loss_type=["cdpo", "logistic"], sympo_epsilon=0.2))
    la, lb = a[0]["loss"], b[0]["loss"]; print(la, lb)
    A("handled" if abs(la - lb) < 1e-7 else "silent-wrong", f"ls {la} vs eps {lb}")
except ValueError as e:
    print(e); A("handled" if "label_smoothing" in str(e) else "unclear", str(e)[:150])
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

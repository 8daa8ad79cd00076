# class: TRL integration
# case: discopop_tau with a list including discopop
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import sys; sys.path.insert(0, '/tmp/wh/cases'); from trlh import *
try:
    _, a = train(cfg(sympo_loss_type=["discopop", "logistic"], discopop_tau=0.3)); _, b = train(cfg(sympo_loss_type=["discopop", "logistic"], sympo_tau=0.3))
    la, lb = a[0]["loss"], b[0]["loss"]; print(la, lb)
    A("handled" if abs(la - lb) < 1e-7 else "silent-wrong", f"discopop_tau {la} vs sympo_tau {lb}")
except ValueError as e:
    print(e); A("handled" if "discopop_tau" in str(e) else "unclear", str(e)[:150])
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

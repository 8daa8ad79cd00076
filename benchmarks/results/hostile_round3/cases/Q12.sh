# class: TRL integration
# case: sympo_loss_weights length mismatch
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import sys; sys.path.insert(0, '/tmp/wh/cases'); from trlh import *
refused(lambda: cfg(sympo_loss_type=["logistic", "hinge"], sympo_loss_weights=[1.0, 2.0, 3.0]), "loss_weights")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

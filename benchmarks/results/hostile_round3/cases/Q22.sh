# class: TRL integration
# case: config mutated after construction: cfg.loss_type = ['ipo'], then train
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import sys; sys.path.insert(0, '/tmp/wh/cases'); from trlh import *
c = cfg(); c.loss_type = ["ipo"]
refused(lambda: train(c), "loss_type")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

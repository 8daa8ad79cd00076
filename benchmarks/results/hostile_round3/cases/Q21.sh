# class: TRL integration
# case: config mutated after construction: cfg.label_smoothing = 0.1 (sigmoid), then train
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import sys; sys.path.insert(0, '/tmp/wh/cases'); from trlh import *
c = cfg(); c.label_smoothing = 0.1
refused(lambda: train(c), "label_smoothing")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

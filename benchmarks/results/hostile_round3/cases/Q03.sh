# class: TRL integration
# case: label_smoothing=0.1 + sympo_epsilon=0.2 with cdpo (disagree)
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import sys; sys.path.insert(0, '/tmp/wh/cases'); from trlh import *
refused(lambda: cfg(sympo_loss_type="cdpo", sympo_epsilon=0.2, label_smoothing=0.1), "label_smoothing")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

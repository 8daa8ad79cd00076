# class: TRL integration
# case: config mutated after construction: cfg.sympo_loss_type = 'logistic' after sympo_temperature was set
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import sys; sys.path.insert(0, '/tmp/wh/cases'); from trlh import *
c = cfg(sympo_temperature=2.0); c.sympo_loss_type = "logistic"
refused(lambda: train(c), "temperature")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

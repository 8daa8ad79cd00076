# class: TRL integration
# case: a label column with a value 2
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import sys; sys.path.insert(0, '/tmp/wh/cases'); from trlh import *
from datasets import Dataset
rows = data().to_list(); rows[1]["label"] = 2; rows = [dict(r, label=r.get("label", 1)) for r in rows]
refused(lambda: train(cfg(), ds=Dataset.from_list(rows)), "label")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

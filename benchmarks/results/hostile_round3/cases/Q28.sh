# class: TRL integration
# case: a label column of all 0 == the swapped dataset (first loss)
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import sys; sys.path.insert(0, '/tmp/wh/cases'); from trlh import *
from datasets import Dataset
d = data(); rows = d.to_list()
l0 = Dataset.from_list([dict(r, label=0) for r in rows]); sw = Dataset.from_list([dict(r, chosen=r["rejected"], rejected=r["chosen"]) for r in rows])
_, a = train(cfg(sympo_loss_type="logistic"), ds=l0); _, b = train(cfg(sympo_loss_type="logistic"), ds=sw)
la, lb = a[0]["loss"], b[0]["loss"]; print(la, lb)
A("handled" if abs(la - lb) < 1e-6 else "silent-wrong", f"label0 {la} vs swapped {lb}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

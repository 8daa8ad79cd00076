# class: TRL integration
# case: sympo_logps_path='fused_linear' forced on the tiny Llama: refused clearly, or taken with the logits path's loss
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import sys; sys.path.insert(0, '/tmp/wh/cases'); from trlh import *
try:
    t, a = train(cfg(sympo_logps_path="fused_linear")); _, b = train(cfg(sympo_logps_path="logits"))
    la, lb = a[0]["loss"], b[0]["loss"]; print("path", t.logps_path, la, lb)
    A("handled" if t.logps_path == "fused_linear" and abs(la - lb) < 1e-6 else "silent-wrong", f"path {t.logps_path}: loss {la} vs logits path {lb}")
except ValueError as e:
    m = str(e); print("ValueError:", m[:300])
    A("handled" if "sympo_logps_path" in m and "--logps_path" not in m else "unclear", m[:200])
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

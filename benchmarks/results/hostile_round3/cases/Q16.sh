# class: TRL integration
# case: beta honoured: the first loss equals the sigmoid formula on the logged margins at beta 0.5 vs 0.2
source /tmp/wh/cases/lib.sh
cat > p.py <<'PYEOF'
import sys; sys.path.insert(0, '/tmp/wh/cases'); from trlh import *
_, a = train(cfg(beta=0.5, per_device_train_batch_size=1)); _, b = train(cfg(beta=0.2, per_device_train_batch_size=1))
s5, s2 = a[0]["rewards/margins"], b[0]["rewards/margins"]
ok = abs(a[0]["loss"] - 1 / (1 + math.exp(s5))) < 1e-6 and abs(s5 / s2 - 2.5) < 1e-4
A("handled" if ok else "silent-wrong", f"loss {a[0]['loss']} f(s)={1/(1+math.exp(s5))} margins ratio {s5/s2}")
PYEOF
K $PY p.py
a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi

# class: checkpoints: foreign, damaged, odd states
# case: every checkpoint damaged (optimizer.pt bit flipped in both)
source /tmp/wh/cases/lib.sh
base
for s in 1 2; do f=o2/checkpoints/step-00000$s/optimizer.pt; $PY -c "import sys;b=bytearray(open('$f','rb').read());b[len(b)//2]^=1;open('$f','wb').write(b)"; done
K RES
refuse 2 'intact|optimizer.pt|checkpoint'

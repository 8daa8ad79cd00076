# class: sympo-audit: output dir
# case: full disk while writing (tmpfs 48k) with a previous audit present
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
AU --model $R1/final --ref_model $FX/model --data d16.jsonl --beta 0.2 --output_dir ref16 >/dev/null 2>&1
mkdir mnt; mount -t tmpfs -o size=64k tmpfs mnt; cp -r ref16 mnt/a; df -k mnt | tail -1
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir mnt/a
s=$($PY /tmp/wh/cases/coh.py mnt/a ref16 ref16); echo "$s"; umount mnt
if tb; then V traceback "rc $RC"; elif [ $RC = 4 ] && [[ "$s" == STATE=old* ]]; then V handled "4, previous intact: $s"; elif [ $RC = 0 ]; then V handled "fitted"; else V "lost / mixed" "rc $RC $s"; fi

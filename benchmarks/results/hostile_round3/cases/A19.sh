# class: sympo-audit: output dir
# case: existing previous audit on a file system that turns read-only: exit 4, previous intact
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
mkdir mnt; mount -t tmpfs -o size=2m tmpfs mnt
AU --model $R1/final --ref_model $FX/model --data d16.jsonl --beta 0.2 --output_dir mnt/a >/dev/null 2>&1; cp -r mnt/a ref16
mount -o remount,ro mnt
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir mnt/a
s=$($PY /tmp/wh/cases/coh.py mnt/a ref16 ref16); echo "$s"; umount mnt
if tb; then V traceback "rc $RC"; elif { [ $RC = 4 ] || [ $RC = 2 ]; } && [[ "$s" == STATE=old* ]] && grep -qi "read-only" key.out; then V handled "$RC, previous intact"; else V unclear "rc $RC $s"; fi

# class: sympo-audit: output dir
# case: --output_dir on a read-only file system (new subdir)
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
mkdir ro; mount -t tmpfs -o ro,size=1m tmpfs ro
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir ro/out; umount ro
if tb; then V traceback "rc $RC"; elif [ $RC = 4 ] || [ $RC = 2 ]; then grep -qiE 'read-only|ro/out' key.out && V handled "rc $RC" || V unclear "$(tail -1 key.out)"; else V unclear "rc $RC"; fi

# class: sympo-audit: output dir
# case: uncreatable --output_dir (/proc/wh_out)
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir /proc/wh_out
if tb; then V traceback "rc $RC"; elif [ $RC = 4 ] || [ $RC = 2 ]; then grep -qE 'output_dir|/proc/wh_out' key.out && grep -qiE 'creat|cannot|could not' key.out && V handled "rc $RC names it" || V unclear "$(tail -1 key.out | cut -c1-200)"; else V unclear "rc $RC"; fi

# class: sympo-audit: scoring
# case: --max_length 6 (responses truncated): margins over the kept tokens only? (independent)
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --max_length 6 --output_dir a
sk=$(grep -c 'skipped_too_long' a/audit.csv 2>/dev/null); echo "skipped too long: $sk"
grep -iE 'truncat' key.out | head -2
if [ $RC = 0 ]; then grep -qiE 'truncat' key.out a/summary.json && V handled "truncation reported" || V unclear "rc 0: margins of truncated responses, not said in the last line or summary"; else refuse 2 'max_length'; fi

# class: sympo-audit: degenerate
# case: policy == reference (every margin 0)
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
K AU --model $FX/model --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a
grep -iE 'warn|degenerate|zero|identical|same' key.out | head -3
if [ $RC = 2 ]; then refuse 2 'reference|same|identical'; elif grep -qiE 'identical|same model|all margins|zero|no information' key.out; then V handled "warned"; else V unclear "rc $RC: a number is reported with no word that the policy is the reference"; fi

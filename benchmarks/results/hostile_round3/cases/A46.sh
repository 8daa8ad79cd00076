# class: sympo-audit: bad inputs
# case: --split with a JSONL file (not a DatasetDict)
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --split test --beta 0.2 --output_dir a
if [ $RC = 0 ]; then V unclear "--split test accepted and ignored for a JSONL file"; else refuse 2 'split' a; fi

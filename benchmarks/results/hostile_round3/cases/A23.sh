# class: sympo-audit: output dir
# case: --data inside --output_dir named cleaned.jsonl
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
mkdir a; cp a40_noisy.jsonl a/cleaned.jsonl; md5sum a/cleaned.jsonl > m
K AU --model $R1/final --ref_model $FX/model --data a/cleaned.jsonl --beta 0.2 --output_dir a
md5sum -c --quiet m || { V "lost / mixed" "data overwritten"; exit; }
refuse 2 'cleaned.jsonl|overwritten'

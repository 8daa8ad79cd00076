# class: sympo-audit: output dir
# case: --output_dir is an existing file
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
echo x > afile
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir afile
[ "$(cat afile)" = x ] || { V "lost / mixed" "file replaced"; exit; }
refuse 2 'afile|not a directory'

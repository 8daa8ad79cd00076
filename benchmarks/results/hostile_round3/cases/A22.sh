# class: sympo-audit: output dir
# case: --output_dir = the run directory
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
cp -r $R1 run1c
K AU --model run1c --output_dir run1c
[ -e run1c/final/model.safetensors ] || { V "lost / mixed" "run damaged"; exit; }
refuse 2 'holds other files|run1c'

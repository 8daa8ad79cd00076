# class: sympo-audit: output dir
# case: --output_dir holds a hidden file (.keep) and a subdirectory
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
mkdir -p a/sub; echo k > a/.keep; echo s > a/sub/f
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a
[ -e a/.keep ] && [ -e a/sub/f ] || { V "lost / mixed" "deleted"; exit; }
if [ $RC = 0 ]; then V unclear "wrote into a dir holding other entries (.keep, sub/) without a word"; else refuse 2 'holds other|keep|sub'; fi

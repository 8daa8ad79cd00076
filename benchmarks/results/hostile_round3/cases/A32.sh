# class: sympo-audit: defaults
# case: run dir whose run.json is missing
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
cp -r $R1 r; rm r/run.json
K AU --model r --output_dir a
if tb; then V traceback "rc $RC"; elif [ $RC = 2 ]; then grep -qiE 'run.json|ref_model|reference' key.out && V handled "refused: $(tail -1 key.out | cut -c1-150)" || V unclear "$(tail -1 key.out)"; else V unclear "rc $RC"; fi

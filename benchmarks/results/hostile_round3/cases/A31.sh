# class: sympo-audit: defaults
# case: run dir without final/ (run killed before the end)
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
cp -r $R1 r; rm -rf r/final
K AU --model r --output_dir a
if tb; then V traceback "rc $RC"; elif [ $RC = 2 ] && grep -qiE 'final|checkpoint' key.out; then V handled "refused naming final/"; elif [ $RC = 0 ]; then V unclear "scored something: check which policy ($(tail -1 key.out | cut -c1-100))"; else V unclear "rc $RC $(tail -1 key.out)"; fi

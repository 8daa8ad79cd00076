# class: sympo-audit: defaults
# case: run dir whose training data file was edited since training (default --data)
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
mkdir t; cp -r model t/model; cp a40.jsonl t/; cd t
nice -n 10 sympo-train --model model --train_data a40.jsonl --output_dir run --beta 0.2 --batch_size 8 --max_steps 2 --progress false >/dev/null 2>&1
head -20 a40.jsonl > x && mv x a40.jsonl; cd ..
K AU --model t/run --output_dir a
if tb; then V traceback "rc $RC"; elif grep -qiE 'changed|fingerprint|differ|not the data' key.out; then V handled "$(grep -iE 'changed|fingerprint|differ' key.out | head -1 | cut -c1-200)"; elif [ $RC = 0 ]; then V unclear "audited the edited file (20 pairs) as 'the run's data' without a word"; else V unclear "rc $RC"; fi

# class: sympo-audit: defaults
# case: run dir whose reference model was moved away since training
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
mkdir t; cp -r model t/model; cp a40.jsonl t/; cd t
nice -n 10 sympo-train --model model --train_data a40.jsonl --output_dir run --beta 0.2 --batch_size 8 --max_steps 2 --progress false >/dev/null 2>&1
mv model model_moved; cd ..
K AU --model t/run --output_dir a
if tb; then V traceback "rc $RC"; elif [ $RC = 2 ] && grep -qiE 'run.json|recorded|the run' key.out; then V handled "$(tail -1 key.out | cut -c1-200)"; elif [ $RC = 2 ]; then V unclear "$(tail -1 key.out | cut -c1-200)"; else V silent-wrong "rc $RC"; fi

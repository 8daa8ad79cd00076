# class: sympo-audit: defaults
# case: run dir whose reference model was re-exported (other weights) since training
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
mkdir t; cp -r model t/model; cp a40.jsonl t/; cd t
nice -n 10 sympo-train --model model --train_data a40.jsonl --output_dir run --beta 0.2 --batch_size 8 --max_steps 2 --progress false >/dev/null 2>&1
cp ../model_b/model.safetensors model/model.safetensors; cd ..
K AU --model t/run --output_dir a
if tb; then V traceback "rc $RC"; elif [ $RC = 2 ]; then grep -qiE 'changed|fingerprint|differ' key.out && V handled "$(tail -1 key.out | cut -c1-200)" || V unclear "$(tail -1 key.out)"; elif grep -qiE 'changed|fingerprint|differ' key.out; then V handled "warned"; else V silent-wrong "scored against a reference other than the run's, no word"; fi

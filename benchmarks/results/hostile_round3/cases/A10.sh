# class: sympo-audit: degenerate
# case: NaN everywhere in the reference's embeddings
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
cp -r $FX/model nanr; $PY -c "
from safetensors.torch import load_file,save_file
d=load_file('nanr/model.safetensors'); d['model.embed_tokens.weight'][:]=float('nan'); save_file(d,'nanr/model.safetensors',metadata={'format':'pt'})"
K AU --model $R1/final --ref_model nanr --data a40_noisy.jsonl --beta 0.2 --output_dir a
if tb; then V traceback "rc $RC"; elif [ $RC = 2 ] && grep -qiE 'nan|finite' key.out; then grep -qi 'reference' key.out && V handled "names the reference" || V unclear "says non-finite but blames 'the model': $(tail -1 key.out | cut -c1-200)"; else V silent-wrong "rc $RC"; fi
[ -e a ] && echo "NOTE: a created"

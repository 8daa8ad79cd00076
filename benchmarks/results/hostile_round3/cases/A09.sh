# class: sympo-audit: degenerate
# case: NaN in one lm_head weight of the policy
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
cp -r $FX/model nanm; $PY -c "
from safetensors.torch import load_file,save_file
d=load_file('nanm/model.safetensors'); d['lm_head.weight'][3,0]=float('nan'); save_file(d,'nanm/model.safetensors',metadata={'format':'pt'})"
K AU --model nanm --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a
if tb; then V traceback "rc $RC"; elif [ $RC = 2 ] && ! grep -q 'probe_logps_paths' key.out && grep -qiE 'nan|finite' key.out; then V handled "refused, names non-finite"; elif [ $RC = 2 ]; then V unclear "$(tail -1 key.out | cut -c1-200)"; else V silent-wrong "rc $RC"; fi

# class: model / tokenizer mismatches
# case: model.safetensors missing one tensor (lm_head removed: silently re-initialised?)
source /tmp/wh/cases/lib.sh
$PY -c "
from safetensors.torch import load_file,save_file
d=load_file('model/model.safetensors'); d.pop('lm_head.weight'); save_file(d,'model/model.safetensors',metadata={'format':'pt'})"
K TA --output_dir o --max_steps 1
if [ $RC = 0 ]; then grep -qiE 'missing|lm_head|newly|initiali' key.out && V handled "trained; the missing tensor is reported" || V silent-wrong "trained with a randomly initialised lm_head, no word"; else refuse 2 'lm_head|missing|model' o; fi

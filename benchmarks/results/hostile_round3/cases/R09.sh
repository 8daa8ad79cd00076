# class: resume with changed inputs
# case: model re-saved with identical weights (load + save_pretrained) before --resume
source /tmp/wh/cases/lib.sh
base
$PY -c "from transformers import AutoModelForCausalLM as A; A.from_pretrained('model').save_pretrained('model')" 2>/dev/null
K RES
if [ $RC = 0 ]; then same_as_o && V handled "accepted, exact" || V silent-wrong "accepted, weights differ"; else refuse 2 'model'; fi

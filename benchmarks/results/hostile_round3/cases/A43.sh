# class: sympo-audit: bad inputs
# case: reference with another vocabulary size
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
$PY -c "
from transformers import AutoModelForCausalLM as A
m=A.from_pretrained('$FX/model'); m.resize_token_embeddings(150); m.save_pretrained('big')" >/dev/null 2>&1
K AU --model $R1/final --ref_model big --data a40_noisy.jsonl --beta 0.2 --output_dir a
refuse 2 'vocab' a

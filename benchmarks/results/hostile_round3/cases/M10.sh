# class: model / tokenizer mismatches
# case: model with 50 embedding rows, its own (100-id) tokenizer
source /tmp/wh/cases/lib.sh
$PY -c "
from transformers import AutoModelForCausalLM as A
m=A.from_pretrained('model'); m.resize_token_embeddings(50); m.save_pretrained('small')" >/dev/null 2>&1
cp model/tokenizer* model/special_tokens_map.json small/ 2>/dev/null; cp model/chat_template.jinja small/ 2>/dev/null
K TA --model small --output_dir o --max_steps 1
refuse 2 'vocab|rows|tokenizer' o

n=0
mk() { n=$((n+1)); id=$(printf 'M%02d' $n); { echo "# class: ${2:-model / tokenizer mismatches}"; echo "# case: $1"; echo "source /tmp/wh/cases/lib.sh"; cat; } > $id.sh; }
mk "config.json is not JSON" <<'EOF'
echo '{"model_type": "llama",' > model/config.json
K TA --output_dir o --max_steps 1
refuse 2 'config.json|model' o
EOF
mk "config.json vocab_size 120 while the weights have 100 rows" <<'EOF'
$PY -c "import json;c=json.load(open('model/config.json'));c['vocab_size']=120;json.dump(c,open('model/config.json','w'))"
K TA --output_dir o --max_steps 1
refuse 2 'model|vocab|size|shape' o
EOF
mk "config.json model_type unknown ('llamaX')" <<'EOF'
$PY -c "import json;c=json.load(open('model/config.json'));c['model_type']='llamaX';json.dump(c,open('model/config.json','w'))"
K TA --output_dir o --max_steps 1
refuse 2 'model|llamaX' o
EOF
mk "model.safetensors truncated to half" <<'EOF'
s=$(stat -c %s model/model.safetensors); truncate -s $((s/2)) model/model.safetensors
K TA --output_dir o --max_steps 1
refuse 2 'model|safetensors' o
EOF
mk "model.safetensors empty (0 bytes)" <<'EOF'
: > model/model.safetensors
K TA --output_dir o --max_steps 1
refuse 2 'model|safetensors' o
EOF
mk "model.safetensors missing one tensor (lm_head removed: silently re-initialised?)" <<'EOF'
$PY -c "
from safetensors.torch import load_file,save_file
d=load_file('model/model.safetensors'); d.pop('lm_head.weight'); save_file(d,'model/model.safetensors',metadata={'format':'pt'})"
K TA --output_dir o --max_steps 1
if [ $RC = 0 ]; then grep -qiE 'missing|lm_head|newly|initiali' key.out && V handled "trained; the missing tensor is reported" || V silent-wrong "trained with a randomly initialised lm_head, no word"; else refuse 2 'lm_head|missing|model' o; fi
EOF
mk "--torch_dtype float16 on CPU" <<'EOF'
K TA --output_dir o --max_steps 2 --torch_dtype float16
if [ $RC = 0 ]; then l=$(tail -1 o/metrics.csv | cut -d, -f4); echo "loss $l"; case $l in *nan*|'') V silent-wrong "loss $l";; *) V handled "trains in fp16 on CPU, loss $l";; esac; else refuse 2 'float16|dtype' o; fi
EOF
mk "--torch_dtype bfloat16 on CPU with --precision fp32" <<'EOF'
K TA --output_dir o --max_steps 2 --torch_dtype bfloat16 --precision fp32
if [ $RC = 0 ]; then V handled "ran (bf16 weights)"; else refuse 2 'bfloat16|dtype|precision' o; fi
EOF
mk "--precision bf16 on a CPU-only machine" <<'EOF'
K TA --output_dir o --max_steps 1 --precision bf16
if [ $RC = 0 ]; then V handled "ran (bf16 autocast on CPU)"; else refuse 2 'bf16|precision' o; fi
EOF
mk "model with 50 embedding rows, its own (100-id) tokenizer" <<'EOF'
$PY -c "
from transformers import AutoModelForCausalLM as A
m=A.from_pretrained('model'); m.resize_token_embeddings(50); m.save_pretrained('small')" >/dev/null 2>&1
cp model/tokenizer* model/special_tokens_map.json small/ 2>/dev/null; cp model/chat_template.jinja small/ 2>/dev/null
K TA --model small --output_dir o --max_steps 1
refuse 2 'vocab|rows|tokenizer' o
EOF
mk "tokenizer directory without tokenizer files (--tokenizer empty dir)" <<'EOF'
mkdir emptytok
K TA --tokenizer emptytok --output_dir o --max_steps 1
refuse 2 'tokenizer|emptytok' o
EOF
mk "tokenizer with eos unset (eos_token null)" <<'EOF'
$PY -c "
import json;c=json.load(open('tok/tokenizer_config.json'));c['eos_token']=None;json.dump(c,open('tok/tokenizer_config.json','w'))"
rm -f tok/special_tokens_map.json
K TA --tokenizer tok --output_dir o --max_steps 1
if [ $RC = 0 ]; then grep -qi eos key.out && V handled "ran, says eos" || V unclear "ran without eos; responses end without eos, no word"; else refuse 2 'eos' o; fi
EOF
mk "--tokenizer is another model's tokenizer of the same size with permuted ids (undetectable by size)" <<'EOF'
$PY - <<'P'
import json
t=json.load(open('tok/tokenizer.json')); v=t['model']['vocab']
keys=[k for k in v if not k.startswith('<')]; ids=[v[k] for k in keys]; ids=ids[7:]+ids[:7]
for k,i in zip(keys,ids): v[k]=i
json.dump(t,open('tok/tokenizer.json','w'))
P
K TA --tokenizer tok --output_dir o --max_steps 1
ok0 "ran: a permuted tokenizer of the same size cannot be detected from sizes (note)"
EOF
mk "--model is a file, not a directory" <<'EOF'
K TA --model d16.jsonl --output_dir o --max_steps 1
refuse 2 'model|d16.jsonl' o
EOF
mk "--model nonexistent Hub-like id offline" <<'EOF'
K TA --model nobody/nothing-xyz --output_dir o --max_steps 1
refuse 2 'nobody/nothing-xyz' o
EOF
mk "--ref_model with another architecture width (hidden 16, same vocab)" <<'EOF'
$PY -c "
from transformers import LlamaConfig, LlamaForCausalLM
import json; c=json.load(open('model/config.json')); c['hidden_size']=16; c['intermediate_size']=32; c.pop('architectures',None)
m=LlamaForCausalLM(LlamaConfig(**{k:v for k,v in c.items() if k not in ('transformers_version','model_type')})); m.save_pretrained('ref16')" >/dev/null 2>&1
K TA --ref_model ref16 --output_dir o --max_steps 2
ok0 "a reference of another width is a valid reference (log-probs only)"
EOF
mk "--attn_implementation flash_attention_2 on CPU" <<'EOF'
K TA --attn_implementation flash_attention_2 --output_dir o --max_steps 1
refuse 2 'flash' o
EOF
mk "--gradient_checkpointing on the tiny Llama: same parameters as without" <<'EOF'
TA --output_dir f --max_steps 2 > /dev/null 2>&1
K TA --gradient_checkpointing --output_dir o --max_steps 2
m=$(cmpw o f | grep -o 'MAXDIFF=[^ ]*'); echo $m
[ $RC = 0 ] && [ "$m" = "MAXDIFF=0.0" ] && V handled "identical" || V silent-wrong "rc $RC $m"
EOF
mk "--lora_r 4 then --merge_lora: merged model loads and differs from the base" <<'EOF'
K TA --lora_r 4 --merge_lora --learning_rate 1e-2 --output_dir o --max_steps 2
m=$(cmpw model o/final/merged 2>&1 | grep -o 'MAXDIFF=[^ ]*'); echo "base vs merged: $m"
[ $RC = 0 ] && [ -e o/final/adapter_config.json ] && [ "$m" != "MAXDIFF=0.0" ] && V handled "adapter + merged written" || V unclear "rc $RC $m"
EOF

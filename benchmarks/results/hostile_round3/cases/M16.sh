# class: model / tokenizer mismatches
# case: --ref_model with another architecture width (hidden 16, same vocab)
source /tmp/wh/cases/lib.sh
$PY -c "
from transformers import LlamaConfig, LlamaForCausalLM
import json; c=json.load(open('model/config.json')); c['hidden_size']=16; c['intermediate_size']=32; c.pop('architectures',None)
m=LlamaForCausalLM(LlamaConfig(**{k:v for k,v in c.items() if k not in ('transformers_version','model_type')})); m.save_pretrained('ref16')" >/dev/null 2>&1
K TA --ref_model ref16 --output_dir o --max_steps 2
ok0 "a reference of another width is a valid reference (log-probs only)"

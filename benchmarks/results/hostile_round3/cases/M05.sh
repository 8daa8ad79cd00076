# class: model / tokenizer mismatches
# case: model.safetensors empty (0 bytes)
source /tmp/wh/cases/lib.sh
: > model/model.safetensors
K TA --output_dir o --max_steps 1
refuse 2 'model|safetensors' o

# class: model / tokenizer mismatches
# case: model.safetensors truncated to half
source /tmp/wh/cases/lib.sh
s=$(stat -c %s model/model.safetensors); truncate -s $((s/2)) model/model.safetensors
K TA --output_dir o --max_steps 1
refuse 2 'model|safetensors' o

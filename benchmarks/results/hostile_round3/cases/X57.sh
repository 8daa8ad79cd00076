# class: option edges
# case: --lora_r -1
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --lora_r -1
refuse 2 'lora_r' o

# class: option edges
# case: --lora_target_modules one bad name among good
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --lora_r 4 --lora_target_modules q_proj,nope_proj
refuse 2 'nope_proj' o

# class: option edges
# case: --max_prompt_length 0
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --max_prompt_length 0
refuse 2 'max_prompt_length' o

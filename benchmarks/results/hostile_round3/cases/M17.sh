# class: model / tokenizer mismatches
# case: --attn_implementation flash_attention_2 on CPU
source /tmp/wh/cases/lib.sh
K TA --attn_implementation flash_attention_2 --output_dir o --max_steps 1
refuse 2 'flash' o

# class: model / tokenizer mismatches
# case: --model is a file, not a directory
source /tmp/wh/cases/lib.sh
K TA --model d16.jsonl --output_dir o --max_steps 1
refuse 2 'model|d16.jsonl' o

# class: data
# case: invalid UTF-8 byte in line 3
source /tmp/wh/cases/lib.sh
{ head -2 d16.jsonl; printf '{"prompt": "a\xff b", "chosen": "x", "rejected": "y"}\n'; tail -13 d16.jsonl; } > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
refuse 2 'x.jsonl:3|utf' o

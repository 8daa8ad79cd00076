# class: data
# case: truncated last line
source /tmp/wh/cases/lib.sh
{ cat d16.jsonl; printf '{"prompt": "a b", "chos'; } > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
refuse 2 'x.jsonl:17' o

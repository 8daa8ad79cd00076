# class: data
# case: CRLF line endings
source /tmp/wh/cases/lib.sh
sed 's/$/\r/' d16.jsonl > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
ok0 "CRLF accepted"

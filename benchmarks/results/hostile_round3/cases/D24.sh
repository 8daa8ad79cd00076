# class: data
# case: chat data (system + user prompt, assistant responses) trains
source /tmp/wh/cases/lib.sh
K TA --train_data chat16.jsonl --output_dir o --max_steps 2
ok0 "chat trained"

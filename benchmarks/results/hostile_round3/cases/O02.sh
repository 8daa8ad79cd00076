# class: --overwrite and inputs inside the output dir
# case: --overwrite with --train_data inside OUT
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 1 > /dev/null 2>&1; cp d16.jsonl o/mine.jsonl
K TA --output_dir o --train_data o/mine.jsonl --max_steps 1 --overwrite
[ -e o/mine.jsonl ] || { V "lost / mixed" "o/mine.jsonl deleted"; exit; }
refuse 2 'overwrite|inside'

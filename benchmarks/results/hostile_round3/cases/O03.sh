# class: --overwrite and inputs inside the output dir
# case: --overwrite: --train_data is a symlink inside OUT pointing outside (target must survive)
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 1 > /dev/null 2>&1; cp d16.jsonl keep.jsonl; ln -s ../keep.jsonl o/link.jsonl
K TA --output_dir o --train_data o/link.jsonl --max_steps 1 --overwrite
[ -s keep.jsonl ] || { V "lost / mixed" "keep.jsonl (target) deleted"; exit; }
if [ $RC = 0 ]; then V handled "ran; the symlink's target is intact"; else refuse 2 'overwrite|inside'; fi

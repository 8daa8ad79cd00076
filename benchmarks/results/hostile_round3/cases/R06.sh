# class: resume with changed inputs
# case: train data moved to another path (same content), --resume --train_data NEW
source /tmp/wh/cases/lib.sh
base
mv d16.jsonl moved.jsonl
K RES --train_data moved.jsonl
if [ $RC = 0 ]; then same_as_o && V handled "accepted (same pairs), exact" || V silent-wrong "accepted, weights differ"; else refuse 2 'train_data'; fi

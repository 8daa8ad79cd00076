# class: resume with changed inputs
# case: --eval_data edited before --resume
source /tmp/wh/cases/lib.sh
head -8 d256.jsonl > ev.jsonl; base --eval_data ev.jsonl --eval_steps 1
sed -i '1d' ev.jsonl
K RES
if [ $RC = 0 ]; then V unclear "accepted: eval metrics after step 2 are on other pairs, no word (check key.out)"; else refuse 2 'eval'; fi

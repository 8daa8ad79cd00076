# class: resume with changed inputs
# case: train data appended (16 more pairs) before --resume
source /tmp/wh/cases/lib.sh
base
head -16 d256.jsonl >> d16.jsonl
K RES
refuse 2 'train_data|data|changed|pairs'

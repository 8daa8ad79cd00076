# class: resume with changed inputs
# case: train data deleted before --resume
source /tmp/wh/cases/lib.sh
base
rm d16.jsonl
K RES
refuse 2 'd16.jsonl|train_data'

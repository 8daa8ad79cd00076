# class: resume with changed inputs
# case: train data reordered (reversed) before --resume
source /tmp/wh/cases/lib.sh
base
tac d16.jsonl > t && mv t d16.jsonl
K RES
refuse 2 'train_data|data|changed|pairs|order'

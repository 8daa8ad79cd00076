# class: option edges
# case: --nll_weight 0.5 / --loss_types sigmoid,sft --loss_weights 1,0.5: is the NLL term in the printed / stored loss description?
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_types sigmoid,sft --loss_weights 1,0.5
d=$($PY -c "import json;print(json.load(open('o/run.json'))['loss'].replace(chr(10),' / '))"); echo "run.json loss: $d"
TA --output_dir o2 --max_steps 1 --nll_weight 0.5 > /dev/null 2>&1
d2=$($PY -c "import json;print(json.load(open('o2/run.json'))['loss'].replace(chr(10),' / '))"); echo "with --nll_weight: $d2"
if echo "$d" | grep -qiE 'sft|nll' && echo "$d2" | grep -qiE 'sft|nll'; then V handled "described"; else V silent-wrong "the NLL term (weight 0.5, it is in the loss) is missing from run.json's 'loss' description: '$d' / '$d2'"; fi

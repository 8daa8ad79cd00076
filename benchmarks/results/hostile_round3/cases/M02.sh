# class: model / tokenizer mismatches
# case: config.json vocab_size 120 while the weights have 100 rows
source /tmp/wh/cases/lib.sh
$PY -c "import json;c=json.load(open('model/config.json'));c['vocab_size']=120;json.dump(c,open('model/config.json','w'))"
K TA --output_dir o --max_steps 1
refuse 2 'model|vocab|size|shape' o

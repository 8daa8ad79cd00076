# class: model / tokenizer mismatches
# case: config.json model_type unknown ('llamaX')
source /tmp/wh/cases/lib.sh
$PY -c "import json;c=json.load(open('model/config.json'));c['model_type']='llamaX';json.dump(c,open('model/config.json','w'))"
K TA --output_dir o --max_steps 1
refuse 2 'model|llamaX' o

# class: resume with changed inputs
# case: train data edited (one chosen text) before --resume
source /tmp/wh/cases/lib.sh
base
$PY -c "import json;r=[json.loads(l) for l in open('d16.jsonl')];r[5]['chosen']='ocean ocean ocean';open('d16.jsonl','w').write(''.join(json.dumps(x)+'\n' for x in r))"
K RES
refuse 2 'train_data|data|changed|pairs'

# class: resume with changed inputs
# case: train data relabelled (label 0 on one pair) before --resume
source /tmp/wh/cases/lib.sh
base
$PY -c "import json;r=[json.loads(l) for l in open('d16.jsonl')];r[2]['label']=0;open('d16.jsonl','w').write(''.join(json.dumps(x)+'\n' for x in r))"
K RES
refuse 2 'train_data|data|changed|label|pairs'

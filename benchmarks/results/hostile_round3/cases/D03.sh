# class: data
# case: UTF-8 BOM at the start
source /tmp/wh/cases/lib.sh
$PY -c "import json
R=[json.loads(l) for l in open('d16.jsonl')]
import sys;sys.stdout.write('\ufeff'+''.join(json.dumps(r)+'\n' for r in R))" > x.jsonl
K TA --train_data x.jsonl --output_dir o --max_steps 1
if [ $RC = 0 ]; then V handled 'BOM accepted'; else refuse 2 'x.jsonl:1|BOM' o; fi

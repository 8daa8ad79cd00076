# class: resume with changed inputs
# case: run.json edited by hand (beta 0.1 -> 0.5) before --resume
source /tmp/wh/cases/lib.sh
base
$PY -c "import json;d=json.load(open('o2/run.json'));d['config']['beta']=0.5;json.dump(d,open('o2/run.json','w'))"
K RES
if [ $RC = 0 ]; then same_as_o && V handled "accepted but trained with the checkpoint's beta: exact" || V silent-wrong "accepted, trained with the edited beta, no word"; else refuse 2 'run.json|beta'; fi

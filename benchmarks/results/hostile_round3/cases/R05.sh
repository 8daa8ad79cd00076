# class: resume with changed inputs
# case: train data re-serialised (key order, spacing; same pairs) before --resume: accepted and exact?
source /tmp/wh/cases/lib.sh
base
$PY -c "import json;r=[json.loads(l) for l in open('d16.jsonl')];open('d16.jsonl','w').write(''.join(json.dumps(dict(reversed(list(x.items()))),indent=None,separators=(' , ',' : '))+'\n' for x in r))"
K RES
if [ $RC = 0 ]; then same_as_o && V handled "accepted, final weights = uninterrupted run" || V silent-wrong "accepted but weights differ"; else refuse 2 'data'; fi

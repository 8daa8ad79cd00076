# class: sympo-audit: scoring
# case: policy + ref + noisy data explicit; independent margins; flags vs the 10 true flips
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir a
c=$(CHK a $R1/final $FX/model a40_noisy.jsonl 0.2); echo "$c"
fl=$($PY -c "import csv,json;f=json.load(open('$FX/a40_flips.json'));g=[int(r['index']) for r in csv.DictReader(open('a/audit.csv')) if r['flagged']=='1'];print(len(set(f)&set(g)),'of',len(g),'flagged are true flips')")
echo "$fl"
[ $RC = 0 ] && [[ "$c" == "CHECK OK"* ]] && V handled "$c; $fl" || V silent-wrong "rc $RC $c"

# class: sympo-audit: scoring
# case: --method sign: suspicion = sigmoid(-margin), estimate = share of negative margins
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --method sign --output_dir a
r=$($PY -c "
import csv,json,math
a=list(csv.DictReader(open('a/audit.csv'))); s=json.load(open('a/summary.json'))
d=max(abs(float(x['suspicion'])-1/(1+math.exp(float(x['margin'])))) for x in a)
neg=sum(float(x['margin'])<0 for x in a)/len(a)
print(d, abs(neg-s['noise_rate_estimate']))")
echo "$r"
[ $RC = 0 ] && $PY -c "import sys; a,b='$r'.split(); sys.exit(0 if float(a)<1e-9 and float(b)<1e-9 else 1)" && V handled "$r" || V silent-wrong "$r"

# class: sympo-audit: scoring
# case: --batch_size 1 vs 16: identical audit.csv
source /tmp/wh/cases/lib.sh
cp $FX/a40*.jsonl .; R1=$FX/run1; R2=$FX/run2
CHK() { $PY /tmp/wh/cases/check.py "$@" 2>/dev/null | grep CHECK; }
AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --output_dir b16 >/dev/null 2>&1
K AU --model $R1/final --ref_model $FX/model --data a40_noisy.jsonl --beta 0.2 --batch_size 1 --output_dir a
d=$($PY -c "
import csv
a=list(csv.DictReader(open('a/audit.csv'))); b=list(csv.DictReader(open('b16/audit.csv')))
print(max(abs(float(x['margin'])-float(y['margin'])) for x,y in zip(a,b)), [x['rank'] for x in a]==[y['rank'] for y in b])")
echo "$d"
[ $RC = 0 ] && $PY -c "import sys; m,r='$d'.split(); sys.exit(0 if float(m)<1e-5 and r=='True' else 1)" && V handled "max margin diff, same ranks: $d" || V silent-wrong "$d"

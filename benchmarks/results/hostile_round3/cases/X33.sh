# class: option edges
# case: --loss_types sigmoid,sft together with --nll_weight 0.5 (the same term given twice)
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_types sigmoid,sft --nll_weight 0.5
r=$($PY -c "
import csv; r=next(csv.DictReader(open('o/metrics.csv'))); l=float(r['loss']); n=float(r['nll_loss'])
print(l, n, 'w=%.3f' % ((l-0.5)/n))" 2>&1); echo "loss, nll, implied weight: $r"
if [ $RC = 0 ]; then V silent-wrong "accepted; the NLL weight becomes the sum 1 + 0.5 (loss, nll, weight: $r) without a word"; else refuse 2 'nll_weight|sft'; fi
